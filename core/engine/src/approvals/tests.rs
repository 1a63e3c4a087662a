#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

fn held(id: &str, ttl_ms: u64) -> Held {
    let now = now_ms();
    Held {
        id: id.to_owned(),
        requester: "oncall".into(),
        request_id: "r-1".into(),
        action: Action::Disconnect,
        backends: vec!["mqtt-eu".into()],
        request: json!({"action": "disconnect", "backend": "mqtt-eu", "target": {"client_id": "c1"}}),
        target: json!({"client_id": "c1"}),
        reason: None,
        rule: 0,
        approvers: vec!["lead".into()],
        created_ms: now,
        expires_ms: now + ttl_ms,
        plan: json!([]),
    }
}

fn memory() -> ApprovalStore {
    ApprovalStore::from_config(&IdempotencyConfig::default()).unwrap()
}

#[tokio::test]
async fn a_decision_is_made_once_and_a_run_is_recorded() {
    let store = memory();
    assert_eq!(store.kind(), "memory");
    let id = new_id();
    assert!(is_id(&id));
    store.insert(&held(&id, 60_000)).await.unwrap();
    assert_eq!(store.count_pending().await.unwrap(), 1);
    let first = store.decide(&id, State::Approved, "lead").await.unwrap();
    assert!(
        matches!(&first, Decided::Now(a) if a.state == State::Approved && a.decided_by.as_deref() == Some("lead"))
    );
    let second = store.decide(&id, State::Denied, "other").await.unwrap();
    assert_eq!(second, Decided::Already(State::Approved));
    assert_eq!(store.count_pending().await.unwrap(), 0);
    store.finish(&id, &json!({"status": 200})).await.unwrap();
    let done = store.get(&id).await.unwrap().unwrap();
    assert_eq!(done.state, State::Executed);
    assert_eq!(done.result, Some(json!({"status": 200})));
    assert_eq!(
        store
            .decide("0".repeat(32).as_str(), State::Approved, "lead")
            .await
            .unwrap(),
        Decided::NotFound
    );
}

#[tokio::test]
async fn an_expired_approval_is_expired_once_by_whoever_finds_it() {
    let store = memory();
    let (a, b) = (new_id(), new_id());
    store.insert(&held(&a, 0)).await.unwrap();
    store.insert(&held(&b, 0)).await.unwrap();
    let found = store.decide(&a, State::Approved, "lead").await.unwrap();
    assert!(
        matches!(&found, Decided::ExpiredNow(x) if x.state == State::Expired && x.decided_by.is_none())
    );
    let swept = store.expire_due().await.unwrap();
    assert_eq!(
        swept.iter().map(|x| x.held.id.as_str()).collect::<Vec<_>>(),
        [b.as_str()]
    );
    assert!(store.expire_due().await.unwrap().is_empty());
    assert_eq!(
        store.decide(&b, State::Denied, "lead").await.unwrap(),
        Decided::Already(State::Expired)
    );
}

#[test]
fn ids_and_states_have_fixed_shapes() {
    assert!(!is_id("../etc"));
    assert!(!is_id(&"A".repeat(32)));
    for state in State::ALL {
        assert_eq!(State::parse(state.as_str()), Some(state));
    }
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
}
