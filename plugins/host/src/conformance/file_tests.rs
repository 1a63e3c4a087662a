//! The case file's own rules: what parses, and the mistakes named.

#![allow(clippy::unwrap_used)]
use super::*;
use sever_plugin_abi::StepKind;

#[test]
fn env_parts_are_inherited_and_random_is_a_byte_or_hex() {
    let file = EnvSpec {
        unix_ms: Some(5),
        random: Some(RandomSpec::Fill(1)),
    };
    let case = EnvSpec {
        unix_ms: Some(9),
        random: None,
    };
    let env = file.patched(Some(&case)).to_env().unwrap();
    assert_eq!((env.unix_ms, env.random), (9, [1; 32]));
    let hex = "00".repeat(31) + "ff";
    let env = EnvSpec {
        unix_ms: None,
        random: Some(RandomSpec::Hex(hex)),
    }
    .to_env()
    .unwrap();
    assert_eq!(env.unix_ms, DEFAULT_UNIX_MS);
    assert_eq!(env.random[31], 0xff);
    assert!(EnvSpec {
        unix_ms: None,
        random: Some(RandomSpec::Hex("zz".into()))
    }
    .to_env()
    .is_err());
}

#[test]
fn a_backend_patch_replaces_and_removes_settings() {
    let base = BackendSpec {
        name: "b".into(),
        url: "http://h".into(),
        settings: serde_json::json!({"a": 1, "b": 2})
            .as_object()
            .unwrap()
            .clone(),
    };
    let patch: BackendPatch =
        serde_yaml::from_str("settings: {a: null, c: x}\nurl: http://other").unwrap();
    let spec = patch.apply(&base);
    assert_eq!(spec.url, "http://other");
    assert_eq!(
        spec.settings,
        *serde_json::json!({"b": 2, "c": "x"}).as_object().unwrap()
    );
}

#[test]
fn outcomes_are_done_accepted_or_a_problem_code() {
    assert_eq!(Ending::parse("done"), Ok(Ending::Done));
    assert_eq!(
        Ending::parse("target_not_found"),
        Ok(Ending::Kind(ProblemKind::TargetNotFound))
    );
    let upstream_error = Ending::parse("upstream_error").unwrap();
    assert!(upstream_error.accepts(ProblemKind::Unreadable));
    assert!(upstream_error.accepts(ProblemKind::VendorError));
    assert!(!upstream_error.accepts(ProblemKind::Rejected));
    assert!(Ending::parse("unreadable")
        .unwrap()
        .accepts(ProblemKind::Unreadable));
    assert!(!Ending::parse("unreadable")
        .unwrap()
        .accepts(ProblemKind::VendorError));
    // Sever's own answers about its caller are no adapter's to give.
    for code in [
        "target-not-found",
        "unauthenticated",
        "forbidden",
        "internal",
    ] {
        assert!(
            Ending::parse(code).unwrap_err().contains("problem kind"),
            "{code}"
        );
    }
}

#[test]
fn mistakes_in_a_case_are_named() {
    let case: Case = serde_yaml::from_str(
        "name: x\nrequest: {action: disconnect, target: {client_id: c}}\noutcome: done\n\
         detail: {contains: y}",
    )
    .unwrap();
    let error = case.flows(&EnvSpec::default()).unwrap_err();
    assert!(error.contains("describe a problem"), "{error}");
    let case: Case = serde_yaml::from_str(
        "name: x\nrequest: {action: disconnect, target: {client_id: c}}\noutcome: done\n\
         steps: [{expect: {method: GET}}]",
    )
    .unwrap();
    let error = case.flows(&EnvSpec::default()).unwrap_err();
    assert_eq!(error, "step 1 needs `respond` or `retry`");
    let unknown = serde_yaml::from_str::<Case>("name: x\nrequst: {}").unwrap_err();
    assert!(unknown.to_string().contains("requst"), "{unknown}");
}

#[test]
fn an_exchange_beyond_http_is_expected_by_kind_and_answered_in_its_own_form() {
    let case: Case = serde_yaml::from_str(
        r#"
name: kill
request: { action: terminate, target: { connection_id: "7" } }
steps:
  - expect: { kind: redis_command, args: [CLIENT, KILL, ID, "7"], idempotent: true }
    respond: { redis: { integer: 1 } }
  - expect: { kind: sql_query, params: [{ int4: 7 }] }
    respond: { sql: { rows: [[{ int4: 7 }, { bool: true }]] } }
outcome: done
"#,
    )
    .unwrap();
    let flows = case.flows(&EnvSpec::default()).unwrap();
    let steps = flows[0].steps;
    assert_eq!(steps[0].expect.kind(), StepKind::Redis);
    assert!(matches!(
        &steps[0].respond.as_ref().unwrap().redis,
        Some(sever_plugin_abi::RedisReply::Integer(1))
    ));
    assert_eq!(steps[1].expect.kind(), StepKind::Sql);
}

#[test]
fn an_answer_of_another_kind_or_an_unknown_kind_is_a_mistake_in_the_case() {
    let wrong = |yaml: &str| -> String {
        match serde_yaml::from_str::<Case>(yaml) {
            Err(e) => e.to_string(),
            Ok(case) => case.flows(&EnvSpec::default()).unwrap_err(),
        }
    };
    let base = "name: x\nrequest: {action: disconnect, target: {client_id: c}}\noutcome: done\n";
    let error = wrong(&format!(
        "{base}steps: [{{expect: {{kind: redis_command}}, respond: {{status: 200}}}}]"
    ));
    assert_eq!(
        error,
        "step 1: `respond` answers a http exchange, but `expect` is a redis_command one"
    );
    let error = wrong(&format!(
        "{base}steps: [{{expect: {{kind: carrier_pigeon}}, respond: {{status: 200}}}}]"
    ));
    assert!(
        error.contains("`expect.kind` \"carrier_pigeon\" is not an exchange kind (http, redis_command, sql_query, mqtt_request, nats_request)"),
        "{error}"
    );
    let error = wrong(&format!(
        "{base}steps: [{{expect: {{kind: nats_request}}, respond: {{nats: {{}}, redis: nil}}}}]"
    ));
    assert_eq!(
        error,
        "step 1: `respond` mixes the answers of several exchange kinds"
    );
}
