//! Whole canonical requests through `Sever::act`, on the manual clock: what each sink makes
//! of how a request ended, the checks of spec §4 for dry-runs (single-backend and fan-out
//! alike), transport errors as problems, idempotency expiry, and reloads in the metrics.

use crate::support::*;
use serde_json::{json, Value};
use sever_engine::backend::TransportError;
use sever_engine::config;
use sever_engine::live::Live;
use std::sync::Arc;
use std::time::Duration;

/// Two scripted backends, `b1` and `b2`, both tagged `mqtt`; `b1` gets `b1_extra` lines.
fn two_backends(b1_extra: &str) -> String {
    scripted_backend("b1", &format!("    tags: [mqtt]\n{b1_extra}"))
        + &scripted_backend("b2", "    tags: [mqtt]\n")
}

fn fan_out(dry_run: bool) -> Value {
    json!({
        "action": "disconnect",
        "backends": ["b1", "b2"],
        "target": {"client_id": "c1"},
        "dry_run": dry_run,
    })
}

fn dry(mut body: Value) -> Value {
    body["dry_run"] = Value::Bool(true);
    body
}

fn start(server_extra: &str, backends: &str, upstream: Arc<FakeUpstream>) -> TestSever {
    TestSever::start(server_extra, backends, ManualClock::new(), upstream)
}

fn healthy() -> Arc<FakeUpstream> {
    FakeUpstream::new(script(|_| ok(200, "{}")))
}

#[tokio::test]
async fn a_request_ends_in_one_report_that_the_answer_the_audit_line_and_the_metrics_agree_on() {
    let ts = start("", &two_backends(""), healthy());

    let reply = ts.act(&disconnect("b1", "c1"), None).await;

    assert_eq!(reply.status, 200, "{:#}", reply.json);
    let duration = reply.json["duration_ms"].clone();
    assert!(duration.is_f64(), "{:#}", reply.json);
    assert_eq!(
        reply.json,
        json!({
            "request_id": "req-1",
            "action": "disconnect",
            "backend": "b1",
            "outcome": "done",
            "vendor": reply.json["vendor"].clone(),
            "duration_ms": duration,
        })
    );
    assert_eq!(reply.json["vendor"]["status"], 200);
    let lines = ts.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(
        (
            &line["request_id"],
            &line["caller"],
            &line["backend"],
            &line["outcome"]
        ),
        (
            &json!("req-1"),
            &json!("oncall"),
            &json!("b1"),
            &json!("done")
        )
    );
    assert_eq!(line["target"], json!({"client_id": "c1"}));
    assert_eq!(line["vendor_status"], 200);
    assert_eq!(
        line["duration_ms"], duration,
        "the same duration everywhere"
    );
    assert!(line.get("code").is_none(), "{line:#}");
    // The intent line, written before the vendor call, names the same request.
    let intents = ts.audit_intents();
    assert_eq!(intents.len(), 1, "{intents:#?}");
    assert_eq!(
        (
            &intents[0]["request_id"],
            &intents[0]["backend"],
            &intents[0]["target"]
        ),
        (&json!("req-1"), &json!("b1"), &json!({"client_id": "c1"}))
    );
    assert!(intents[0].get("outcome").is_none(), "{:#}", intents[0]);
    let labels = [
        ("action", "disconnect"),
        ("backend", "b1"),
        ("outcome", "done"),
    ];
    assert_eq!(ts.metric("sever_requests_total", &labels), Some(1.0));
    let timed = [("action", "disconnect"), ("backend", "b1")];
    assert_eq!(
        ts.metric("sever_request_duration_seconds_count", &timed),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_fan_out_reports_each_backend_and_the_whole_in_every_sink() {
    let upstream = FakeUpstream::new(|url, _| {
        if url.ends_with("/token") {
            ok(200, TOKEN)
        } else if url.contains("b2.test") {
            ok(500, "down")
        } else {
            ok(200, "{}")
        }
    });
    let ts = start("", &two_backends(""), upstream);

    let reply = ts.act(&fan_out(false), None).await;

    assert_eq!(reply.status, 207, "{:#}", reply.json);
    assert_eq!(
        reply.json["summary"],
        json!({"done": 1, "accepted": 0, "failed": 1})
    );
    let results = reply.json["results"].as_array().unwrap();
    let shape: Vec<(&Value, &Value)> = results
        .iter()
        .map(|r| (&r["backend"], &r["outcome"]))
        .collect();
    assert_eq!(
        shape,
        [
            (&json!("b1"), &json!("done")),
            (&json!("b2"), &json!("failed"))
        ]
    );
    assert_eq!(results[1]["problem"]["code"], "upstream_error");
    assert_eq!(results[1]["problem"]["backend"], "b2");
    assert!(results.iter().all(|r| r["duration_ms"].is_f64()));

    let lines = ts.audit_lines();
    let ends: Vec<(&Value, &Value, &Value)> = lines
        .iter()
        .map(|l| (&l["backend"], &l["outcome"], &l["code"]))
        .collect();
    assert_eq!(
        ends,
        [
            (&json!("b1"), &json!("done"), &Value::Null),
            (&json!("b2"), &Value::Null, &json!("upstream_error")),
            (&Value::Null, &Value::Null, &Value::Null),
        ]
    );
    assert_eq!(lines[2]["backends"], json!(["b1", "b2"]));
    assert_eq!(lines[2]["status"], 207);
    assert_eq!(lines[2]["summary"], reply.json["summary"]);
    let intents = ts.audit_intents();
    assert_eq!(
        intents.len(),
        1,
        "one intent line for the fan-out: {intents:#?}"
    );
    assert_eq!(intents[0]["backends"], json!(["b1", "b2"]));

    for (backend, outcome) in [("b1", "done"), ("b2", "upstream_error")] {
        let labels = [
            ("action", "disconnect"),
            ("backend", backend),
            ("outcome", outcome),
        ];
        assert_eq!(
            ts.metric("sever_requests_total", &labels),
            Some(1.0),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn each_transport_failure_is_answered_with_its_one_problem() {
    for (error, status, code) in [
        (
            TransportError::Connect("refused".into()),
            502,
            "upstream_unavailable",
        ),
        (
            TransportError::Timeout(Duration::from_secs(1)),
            504,
            "upstream_timeout",
        ),
        (
            TransportError::Protocol("garbage".into()),
            502,
            "upstream_error",
        ),
        (
            TransportError::Invalid("bad header".into()),
            500,
            "internal",
        ),
    ] {
        let failing = error.clone();
        let upstream = FakeUpstream::new(move |_, _| Err(failing.clone()));
        let ts = start("", &two_backends(""), upstream);

        let reply = ts.act(&disconnect("b1", "c1"), None).await;

        let problem = reply.problem(status, code);
        assert_eq!(problem["backend"], "b1", "{error}");
        assert_eq!(
            problem["detail"],
            json!(format!("b1: {error}")),
            "the detail says what went wrong"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Dry-runs and the limits: the same rule for single-backend and fan-out requests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_dry_run_is_refused_while_the_audit_log_cannot_be_written_on_both_paths() {
    let ts = start("", &two_backends(""), healthy());
    let path = ts.dir.path().join("audit.jsonl");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert!(ts.sever.reopen_audit().is_err());

    for body in [
        dry(disconnect("b1", "c1")),
        fan_out(true),
        disconnect("b1", "c1"),
    ] {
        let reply = ts.act(&body, None).await;
        reply.problem(503, "audit_unavailable");
    }
    assert!(ts.upstream.calls().is_empty());
}

#[tokio::test]
async fn a_dry_run_is_refused_over_the_in_flight_limit_on_both_paths() {
    let ts = start(", max_in_flight: 1", &two_backends(""), healthy());
    ts.upstream.close();

    let first_body = disconnect("b1", "c1");
    let held = ts.act(&first_body, None);
    let while_held = async {
        ts.upstream.until_held(1).await;
        let single = ts.act(&dry(disconnect("b2", "c1")), None).await;
        let fanned = ts.act(&fan_out(true), None).await;
        ts.upstream.open();
        (single, fanned)
    };
    let (first, (single, fanned)) = tokio::join!(held, while_held);

    assert_eq!(first.status, 200, "{:#}", first.json);
    for reply in [single, fanned] {
        let problem = reply.problem(503, "overloaded");
        assert_eq!(
            problem["detail"],
            "too many requests in flight; try again shortly"
        );
    }
}

#[tokio::test]
async fn a_dry_run_is_not_refused_by_an_open_breaker_on_either_path() {
    let upstream = FakeUpstream::new(script(|_| ok(500, "down")));
    let ts = start(
        "",
        &two_backends("    breaker: { failures: 1, open_ms: 60000 }\n"),
        upstream,
    );
    ts.act(&disconnect("b1", "c1"), None)
        .await
        .problem(502, "upstream_error");
    ts.act(&disconnect("b1", "c1"), None)
        .await
        .problem(503, "circuit_open");
    let sent = ts.upstream.calls().len();

    let single = ts.act(&dry(disconnect("b1", "c1")), None).await;
    let fanned = ts.act(&fan_out(true), None).await;

    assert_eq!(single.status, 200, "{:#}", single.json);
    assert_eq!(single.json["outcome"], "dry_run");
    assert_eq!(fanned.status, 200, "{:#}", fanned.json);
    assert_eq!(
        fanned.json["summary"],
        json!({"done": 0, "accepted": 0, "failed": 0, "dry_run": 2})
    );
    assert_eq!(ts.upstream.calls().len(), sent, "a dry-run sends nothing");
}

#[tokio::test]
async fn a_dry_run_takes_no_concurrency_slot_on_either_path() {
    let ts = start("", &two_backends("    max_concurrency: 1\n"), healthy());
    ts.upstream.close();

    let first_body = disconnect("b1", "c1");
    let held = ts.act(&first_body, None);
    let while_held = async {
        ts.upstream.until_held(1).await;
        let real = ts.act(&disconnect("b1", "c2"), None).await;
        let single = ts.act(&dry(disconnect("b1", "c1")), None).await;
        let fanned = ts.act(&fan_out(true), None).await;
        ts.upstream.open();
        (real, single, fanned)
    };
    let (first, (real, single, fanned)) = tokio::join!(held, while_held);

    assert_eq!(first.status, 200);
    let problem = real.problem(503, "overloaded");
    assert_eq!(problem["backend"], "b1");
    assert_eq!(single.json["outcome"], "dry_run", "{:#}", single.json);
    assert_eq!(fanned.json["summary"]["dry_run"], 2, "{:#}", fanned.json);
}

#[tokio::test]
async fn a_single_and_a_fan_out_dry_run_show_the_same_plan() {
    let ts = start("", &two_backends(""), healthy());

    let single = ts.act(&dry(disconnect("b1", "c1")), None).await;
    let fanned = ts.act(&fan_out(true), None).await;

    assert_eq!(single.status, 200);
    assert_eq!(
        single.json["planning_stops"],
        "needs the vendor's answer to token"
    );
    let first = &fanned.json["results"][0];
    assert_eq!(first["backend"], "b1");
    assert_eq!(first["requests"], single.json["requests"]);
    assert_eq!(first["planning_stops"], single.json["planning_stops"]);
    assert!(ts.upstream.calls().is_empty());
    let lines = ts.audit_lines();
    assert_eq!(
        lines.len(),
        4,
        "one, then two backends and the fan-out: {lines:#?}"
    );
    assert!(lines.iter().all(|l| l["dry_run"] == true));
}

// ---------------------------------------------------------------------------------------
// Idempotency-Key expiry, on the manual clock
// ---------------------------------------------------------------------------------------

fn replayed(reply: &Reply) -> bool {
    reply.header("idempotent-replayed") == Some("true")
}

#[tokio::test]
async fn a_kept_answer_is_replayed_for_24_hours_and_then_the_key_runs_again() {
    let ts = start("", &two_backends(""), healthy());
    let body = disconnect("b1", "c1");

    let first = ts.act(&body, Some("k-1")).await;
    ts.clock.advance(Duration::from_secs(24 * 3600 - 1));
    let again = ts.act(&body, Some("k-1")).await;
    ts.clock.advance(Duration::from_secs(1));
    let later = ts.act(&body, Some("k-1")).await;

    assert_eq!(first.status, 200);
    assert!(!replayed(&first));
    assert!(replayed(&again), "{again:#?}");
    assert_eq!(again.json, first.json, "the very same answer");
    assert!(!replayed(&later), "{later:#?}");
    assert_eq!(later.status, 200);
    assert_eq!(ts.upstream.calls_to("/kick/c1").len(), 2);
}

#[tokio::test]
async fn a_claim_whose_request_never_ends_expires_after_the_request_timeout_and_its_margin() {
    let ts = start("", &two_backends(""), healthy());
    let body = disconnect("b1", "c1");
    ts.upstream.close();

    let stuck = ts.act(&body, Some("k-2"));
    let meanwhile = async {
        ts.upstream.until_held(1).await;
        let busy = ts.act(&body, Some("k-2")).await;
        // request_timeout_ms 5000 plus the 5 s margin.
        ts.clock.advance(Duration::from_secs(10));
        ts.upstream.open();
        let taken_over = ts.act(&body, Some("k-2")).await;
        (busy, taken_over)
    };
    let (first, (busy, taken_over)) = tokio::join!(stuck, meanwhile);

    busy.problem(409, "idempotency_in_flight");
    assert_eq!(taken_over.status, 200, "{:#}", taken_over.json);
    assert!(!replayed(&taken_over));
    // The stuck request's own time ran out meanwhile: it sends nothing more.
    first.problem(504, "upstream_timeout");
    assert_eq!(ts.upstream.calls_to("/token").len(), 1, "shared by both");
    assert_eq!(ts.upstream.calls_to("/kick/c1").len(), 1);
}

// ---------------------------------------------------------------------------------------
// Reloads, as Prometheus counts its own
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn reloads_are_counted_by_result_and_the_gauge_says_whether_the_last_one_worked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sever.yaml");
    let good = config_yaml(dir.path(), "", &two_backends(""));
    std::fs::write(&path, &good).unwrap();
    let clock = ManualClock::new();
    let sever = sever_engine::Sever::builder(config::load(&path).unwrap(), healthy())
        .ambient(ambient(&clock))
        .plugin(scripted_plugin())
        .build()
        .unwrap();
    let live = Live::new(sever);
    let metrics = |live: &Live| {
        let text = String::from_utf8(live.load().metrics().render()).unwrap();
        let value = |series: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .parse::<f64>()
                    .ok()
            })
        };
        (
            value(r#"sever_config_reloads_total{result="success"}"#),
            value(r#"sever_config_reloads_total{result="failure"}"#),
            value("sever_config_last_reload_successful"),
            value("sever_config_last_reload_success_timestamp_seconds"),
        )
    };
    let started = sever_engine::clock::Clock::unix_ms(clock.as_ref()) as f64 / 1000.0;
    assert_eq!(
        metrics(&live),
        (Some(0.0), Some(0.0), Some(1.0), Some(started))
    );

    std::fs::write(&path, "server: { bogus: 1 }\n").unwrap();
    clock.advance(Duration::from_secs(60));
    assert!(live.reload().is_err());
    assert_eq!(
        metrics(&live),
        (Some(0.0), Some(1.0), Some(0.0), Some(started))
    );

    std::fs::write(&path, &good).unwrap();
    clock.advance(Duration::from_secs(60));
    assert!(live.reload().is_ok());
    assert_eq!(
        metrics(&live),
        (Some(1.0), Some(1.0), Some(1.0), Some(started + 120.0))
    );
}
