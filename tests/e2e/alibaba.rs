//! End to end through the real `sever` and the `alibaba-mqtt` adapter plugin, against the
//! strict ApsaraMQ for MQTT simulator, which checks every signature with its own
//! implementation: what the caller gets back and exactly what the vendor read.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_alibaba_mqtt.so`).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sever_tests::harness::{plugin_path, run_cli};
use sever_tests::sim::alibaba::parse_timestamp;
use sever_tests::sim::{AlibabaFault, AlibabaSim, AlibabaSimConfig, Fault};
use support::*;

#[test]
fn disconnect_is_one_signed_close_connection_and_the_client_is_gone() {
    let sim = sim(&["GID_test@@@dev-1", "GID_test@@@dev-2"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "GID_test@@@dev-1");

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["backend"], "mqtt-cn", "{body:#}");
    assert_eq!(body["vendor"]["status"], 200, "{body:#}");
    let call = assert_one_call(&sim, "GID_test@@@dev-1");
    assert_eq!(call.param("SecurityToken"), None);
    let names: Vec<&str> = call.params.keys().map(String::as_str).collect();
    assert_eq!(
        names.len(),
        12,
        "no parameter beyond the documented ones: {names:?}"
    );
    // Stamped with the host's clock, to the second.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let stamp = parse_timestamp(call.param("Timestamp").unwrap()).unwrap();
    assert!((now - stamp).abs() <= 60, "{stamp} vs {now}");
    // On the wire: a form POST to the root path.
    let raw = &sim.calls()[0];
    assert_eq!((raw.method.as_str(), raw.raw_path.as_str()), ("POST", "/"));
    assert_eq!(raw.query, None, "{raw:#?}");
    let content_type = raw.header("content-type").unwrap_or_default();
    assert_eq!(
        content_type, "application/x-www-form-urlencoded",
        "{raw:#?}"
    );
    assert!(!sim.is_connected("GID_test@@@dev-1"));
    assert!(sim.is_connected("GID_test@@@dev-2"));
    // The vendor's request id reaches the answer and the audit log.
    let request_id = body["vendor"]["request_id"].as_str().unwrap().to_owned();
    assert!(request_id.len() >= 20, "{body:#}");
    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["vendor_request_id"], request_id.as_str());
    assert_eq!(lines[0]["outcome"], "done");
}

#[test]
fn a_client_that_is_not_connected_is_done_as_the_vendor_is_assumed_to_answer() {
    let sim = sim(&[]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "ghost");

    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_one_call(&sim, "ghost");
}

#[test]
fn a_retry_after_a_vendor_500_is_signed_afresh_with_a_new_nonce() {
    let sim = sim(&["c-1"]);
    sim.fail_next(1, Fault::InternalError);
    let setup = Setup {
        retries: 1,
        ..Setup::default()
    };
    let sever = start_with(&sim, &setup);

    let reply = disconnect(&sever, "c-1");

    assert_eq!(reply.expect_success()["outcome"], "done");
    let calls = sim.requests();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for call in &calls {
        assert_close_connection(call, "c-1");
    }
    assert_eq!(calls[0].code.as_deref(), Some("InternalError"));
    assert_eq!(calls[1].code.as_deref(), Some("200"));
    assert_ne!(
        calls[0].param("SignatureNonce"),
        calls[1].param("SignatureNonce")
    );
    assert_ne!(calls[0].param("Signature"), calls[1].param("Signature"));
    assert!(!sim.is_connected("c-1"));
}

#[test]
fn a_retry_after_a_hang_up_is_signed_afresh_too() {
    let sim = sim(&["c-1"]);
    sim.fail_next(1, Fault::HangUp);
    let setup = Setup {
        retries: 1,
        ..Setup::default()
    };
    let sever = start_with(&sim, &setup);

    let reply = disconnect(&sever, "c-1");

    assert_eq!(reply.expect_success()["outcome"], "done");
    let raw = sim.calls();
    assert_eq!(raw.len(), 2, "{raw:#?}");
    assert_ne!(raw[0].body, raw[1].body, "a retry is never the same bytes");
    assert_close_connection(&sim.requests()[1], "c-1");
}

#[test]
fn a_vendor_500_without_retries_is_upstream_error_with_the_vendors_words() {
    let sim = sim(&["c-1"]);
    sim.set_fault(Fault::InternalError);
    let sever = start(&sim);

    let reply = disconnect(&sever, "c-1");

    let problem = reply.expect_problem(502, "upstream_error");
    let message = assert_vendor(problem, 500, "InternalError");
    assert!(message.contains("Try again later"), "{problem:#}");
    assert_one_call(&sim, "c-1");
    assert!(sim.is_connected("c-1"));
}

#[test]
fn a_clock_off_by_an_hour_is_upstream_rejected_with_the_vendors_message() {
    let sim = AlibabaSim::start(sim_config(&["c-1"]).with_clock_offset(3600));
    let setup = Setup {
        retries: 1,
        ..Setup::default()
    };
    let sever = start_with(&sim, &setup);

    let reply = disconnect(&sever, "c-1");

    let problem = reply.expect_problem(502, "upstream_rejected");
    let message = assert_vendor(problem, 400, "InvalidTimeStamp.Expired");
    assert!(message.contains("time stamp"), "{problem:#}");
    // A refusal is not retried, even with `retries: 1`.
    assert_eq!(sim.calls().len(), 1);
    assert!(sim.is_connected("c-1"));
}

#[test]
fn a_wrong_secret_is_upstream_unauthorized_and_the_secret_is_not_shown() {
    let sim = sim(&["c-1"]);
    let setup = Setup {
        secret: "not-the-secret",
        ..Setup::default()
    };
    let sever = start_with(&sim, &setup);

    let reply = disconnect(&sever, "c-1");

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    let message = assert_vendor(problem, 400, "SignatureDoesNotMatch");
    assert!(message.contains("string to sign"), "{problem:#}");
    assert!(!reply.text.contains("not-the-secret"), "{}", reply.text);
    let calls = sim.requests();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].signature_valid, Some(false));
    assert!(sim.is_connected("c-1"));
}

#[test]
fn api_not_support_is_upstream_rejected_not_a_missing_target() {
    let sim = sim(&["c-1"]);
    sim.set_fault(AlibabaFault::ApiNotSupport);
    let sever = start(&sim);

    let reply = disconnect(&sever, "c-1");

    let problem = reply.expect_problem(502, "upstream_rejected");
    let message = assert_vendor(problem, 404, "ApiNotSupport");
    assert_eq!(message, "The specified API is not supported.");
    assert_one_call(&sim, "c-1");
}

#[test]
fn throttling_is_rate_limited_with_the_vendors_retry_after() {
    let sim = sim(&["c-1"]);
    sim.set_fault(AlibabaFault::Throttling {
        retry_after: Some(7),
    });
    let sever = start(&sim);

    let reply = disconnect(&sever, "c-1");

    let problem = reply.expect_problem(429, "rate_limited");
    assert_vendor(problem, 429, "Throttling.User");
    assert_eq!(reply.header("retry-after"), Some("7"), "{reply:#?}");
    assert_one_call(&sim, "c-1");
}

#[test]
fn success_false_in_a_200_is_a_failure_mapped_by_its_code() {
    let sim = sim(&["c-1"]);
    let sever = start(&sim);
    let cases = [
        ("PermissionCheckFailed", 502, "upstream_unauthorized"),
        ("Throttling.Api", 429, "rate_limited"),
        ("SomeCodeNobodyDocumented", 502, "upstream_rejected"),
    ];
    for (code, status, canonical) in cases {
        sim.set_fault(AlibabaFault::SuccessFalse(code));
        let reply = disconnect(&sever, "c-1");
        let problem = reply.expect_problem(status, canonical);
        assert_vendor(problem, 200, code);
    }
    assert_eq!(sim.requests().len(), cases.len());
    assert!(sim.is_connected("c-1"));
}

#[test]
fn an_unknown_instance_and_an_unpermitted_key_read_differently() {
    let sim = AlibabaSim::start(AlibabaSimConfig::new("post-cn-other", KEY_ID, SECRET));
    let sever = start(&sim);
    let reply = disconnect(&sever, "c-1");
    assert_vendor(
        reply.expect_problem(502, "upstream_rejected"),
        400,
        "MqttInstanceNotFound",
    );

    let config = AlibabaSimConfig::new(INSTANCE, "LTAI-admin", "admin-secret")
        .with_unpermitted_key(KEY_ID, SECRET);
    let sim = AlibabaSim::start(config);
    let sever = start(&sim);
    let reply = disconnect(&sever, "c-1");
    assert_vendor(
        reply.expect_problem(502, "upstream_unauthorized"),
        400,
        "InstancePermissionCheckFailed",
    );
}

#[test]
fn vendor_garbage_is_upstream_error_and_a_slow_vendor_upstream_timeout() {
    let sim = sim(&["c-1"]);
    sim.set_fault(Fault::Garbage);
    let sever = start(&sim);
    let reply = disconnect(&sever, "c-1");
    let problem = reply.expect_problem(502, "upstream_error");
    assert_eq!(problem["vendor"]["status"], 200, "{problem:#}");

    sim.set_fault(Fault::None);
    sim.set_delay(Duration::from_secs(3));
    let started = Instant::now();
    disconnect(&sever, "c-1").expect_problem(504, "upstream_timeout");
    // timeout_ms is 1000; the simulator would answer after 3 s.
    assert!(started.elapsed() < Duration::from_millis(2800));
}

#[test]
fn client_ids_that_need_encoding_arrive_byte_exact_and_correctly_signed() {
    let ids = [
        "GID_test@@@dev 1",
        "a+b",
        "100%",
        "*star*",
        "~tilde_-.dot",
        "a=b&c=d",
        "%2F",
        "a/b?c#d",
        "ünïcødé-ß",
        "日本語",
        "emoji-😀",
    ];
    let sim = sim(&ids);
    let sever = start(&sim);

    for id in ids {
        sim.clear_calls();
        let reply = disconnect(&sever, id);
        assert_eq!(reply.expect_success()["outcome"], "done", "{id:?}");
        assert_one_call(&sim, id);
        let body = &sim.calls()[0].body;
        assert!(!body.contains('+') && !body.contains('*'), "{body}");
    }
    assert!(sim.connected_clients().is_empty());
}

#[test]
fn a_client_id_with_a_control_character_is_refused_and_nothing_is_sent() {
    let sim = sim(&[]);
    let sever = start(&sim);

    for id in ["a\nb", "a\r\nX-Evil: 1", "nul\u{0}", "del\u{7f}"] {
        let reply = disconnect(&sever, id);
        let problem = reply.expect_problem(400, "invalid_request");
        assert!(
            problem["detail"].as_str().unwrap().contains("client_id"),
            "{problem:#}"
        );
    }
    assert_nothing_sent(&sim);
}

#[test]
fn dry_run_shows_the_signed_call_with_signature_secret_and_token_redacted() {
    let sim = AlibabaSim::start(sim_config(&["c-1"]).with_security_token(STS_TOKEN));
    let setup = Setup {
        sts: true,
        ..Setup::default()
    };
    let sever = start_with(&sim, &setup);
    let mut request: Value = serde_json::from_str(&disconnect_body("c 1")).unwrap();
    request["dry_run"] = json!(true);

    let reply = act(&sever, &request.to_string());

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "dry_run", "{body:#}");
    assert!(body["planning_stops"].is_string(), "{body:#}");
    let planned = &body["requests"][0];
    assert_eq!(planned["method"], "POST", "{body:#}");
    assert_eq!(planned["url"], format!("{}/", sim.url()), "{body:#}");
    assert_eq!(
        planned["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form = planned["body"].as_str().unwrap();
    let pairs: Vec<(&str, &str)> = form.split('&').filter_map(|p| p.split_once('=')).collect();
    let value = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    assert_eq!(value("Signature"), Some("<redacted>"), "{form}");
    assert_eq!(value("SecurityToken"), Some("<redacted>"), "{form}");
    assert_eq!(value("ClientId"), Some("c%201"), "{form}");
    assert_eq!(value("AccessKeyId"), Some(KEY_ID), "{form}");
    assert_no_secret("the dry-run answer", &reply.text);
    assert_nothing_sent(&sim);
    assert!(sim.is_connected("c-1"));
}

#[test]
fn no_secret_appears_in_logs_audit_or_answers_whatever_happens() {
    let sim = AlibabaSim::start(sim_config(&["c-1", "c-2"]).with_security_token(STS_TOKEN));
    let setup = Setup {
        sts: true,
        retries: 1,
        log: "debug",
        ..Setup::default()
    };
    let sever = start_with(&sim, &setup);
    let mut answers = String::new();

    answers += &disconnect(&sever, "c-1").expect_success().to_string();
    assert_eq!(sim.requests()[0].param("SecurityToken"), Some(STS_TOKEN));
    sim.fail_next(1, Fault::InternalError);
    answers += &disconnect(&sever, "c-2").text;
    sim.set_fault(AlibabaFault::SuccessFalse("InvalidSecurityToken.Expired"));
    answers += &disconnect(&sever, "c-2").text;
    let mut dry: Value = serde_json::from_str(&disconnect_body("c-2")).unwrap();
    dry["dry_run"] = json!(true);
    answers += &act(&sever, &dry.to_string()).text;

    assert!(sim
        .requests()
        .iter()
        .all(|c| c.signature_valid == Some(true)));
    assert_no_secret("the answers", &answers);
    assert_no_secret("the audit log", &sever.audit_text());
    assert_no_secret("stderr", &sever.stderr());
    assert_no_secret("stdout", &sever.stdout());
}

#[test]
fn plugins_command_lists_alibaba_mqtt_with_its_action_and_settings() {
    let library = plugin_path("libsever_alibaba_mqtt.so");

    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    for word in [
        "alibaba-mqtt",
        "disconnect",
        "client_id",
        "instance_id",
        "access_key_id",
        "access_key_secret",
        "region_id",
        "security_token",
    ] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}

#[test]
fn check_names_a_bad_setting_without_echoing_the_secret() {
    let yaml = config("http://127.0.0.1:9", &Setup::default())
        .replace("region_id: \"cn-shanghai\"", "region_id: \"CN Shanghai\"")
        .replace("{{PORT}}", "18999");
    let config = sever_tests::harness::write_config(&yaml);
    let file = config.path().to_str().unwrap();
    let env = [("ONCALL_TOKEN", ONCALL), ("ALIBABA_SECRET", "bad secret x")];

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env);

    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(
        output.contains("backends.mqtt-cn.settings.region_id"),
        "{output}"
    );
    assert!(output.contains("access_key_secret"), "{output}");
    assert!(!output.contains("bad secret x"), "{output}");
}
