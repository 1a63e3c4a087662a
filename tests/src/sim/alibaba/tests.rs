//! The simulator's own contract, checked with a plain HTTP client and requests signed here.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{encode, sign, string_to_sign, AlibabaFault, AlibabaSim, AlibabaSimConfig};
use crate::harness::http::{self, Reply};
use crate::sim::Fault;

const INSTANCE: &str = "post-cn-sim0001";
const KEY: &str = "LTAI-sim-key";
const SECRET: &str = "sim-secret";

fn sim_with(clients: &[&str]) -> AlibabaSim {
    AlibabaSim::start(AlibabaSimConfig::default().with_clients(clients.iter().copied()))
}

fn timestamp(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&format)
        .unwrap()
}

/// Every parameter of a valid call for `client`, unsigned, at the simulator's time.
fn params(sim: &AlibabaSim, client: &str) -> BTreeMap<String, String> {
    static NONCE: AtomicUsize = AtomicUsize::new(0);
    let nonce = format!("nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed));
    [
        ("AccessKeyId", KEY),
        ("Action", "CloseConnection"),
        ("ClientId", client),
        ("Format", "JSON"),
        ("InstanceId", INSTANCE),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", &nonce),
        ("SignatureVersion", "1.0"),
        ("Timestamp", &timestamp(sim.now())),
        ("Version", "2020-04-20"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `params` with `Signature` added, signed for `method` with `secret`.
fn signed(method: &str, mut params: BTreeMap<String, String>, secret: &str) -> String {
    params.remove("Signature");
    let signature = sign(secret, &string_to_sign(method, &params));
    params.insert("Signature".into(), signature);
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn post_form(sim: &AlibabaSim, body: &str) -> Reply {
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    http::send(
        "POST",
        &format!("{}/", sim.url()),
        &headers,
        Some(body.as_bytes()),
    )
}

/// A correctly signed POST of `params`.
fn post(sim: &AlibabaSim, params: BTreeMap<String, String>) -> Reply {
    post_form(sim, &signed("POST", params, SECRET))
}

fn close(sim: &AlibabaSim, client: &str) -> Reply {
    post(sim, params(sim, client))
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    let body = reply.json();
    assert_eq!(body["Code"], code, "{reply:#?}");
    for member in ["RequestId", "HostId", "Message", "Recommend"] {
        assert!(body[member].is_string(), "{member}: {reply:#?}");
    }
    assert!(body.get("Success").is_none(), "{reply:#?}");
}

#[test]
fn a_signed_post_closes_the_connection_and_answers_the_documented_success() {
    let sim = sim_with(&["GID_test@@@a", "other"]);
    let reply = close(&sim, "GID_test@@@a");
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body = reply.json();
    assert_eq!(body["Code"], 200);
    assert_eq!(body["Success"], true);
    assert_eq!(body["Message"], "operation success.");
    assert_eq!(reply.header("x-acs-request-id"), body["RequestId"].as_str());
    assert_eq!(sim.connected_clients(), ["other"]);
    let read = &sim.requests()[0];
    assert_eq!(read.signature_valid, Some(true));
    assert_eq!(read.param("ClientId"), Some("GID_test@@@a"));
    assert_eq!(
        (read.status, read.code.as_deref()),
        (Some(200), Some("200"))
    );
}

#[test]
fn a_get_with_the_parameters_in_the_query_is_accepted_and_signed_as_get() {
    let sim = sim_with(&["c"]);
    let query = signed("GET", params(&sim, "c"), SECRET);
    let reply = http::get(&format!("{}/?{query}", sim.url()), None);
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert!(!sim.is_connected("c"));
    // The method is signed: a POST signature sent with GET does not match.
    let query = signed("POST", params(&sim, "c"), SECRET);
    let reply = http::get(&format!("{}/?{query}", sim.url()), None);
    assert_error(&reply, 400, "SignatureDoesNotMatch");
}

#[test]
fn a_client_that_is_not_connected_is_a_success_too() {
    let sim = sim_with(&[]);
    let reply = close(&sim, "ghost");
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.json()["Success"], true);
}

#[test]
fn a_wrong_secret_is_signature_does_not_match_with_the_servers_string_to_sign() {
    let sim = sim_with(&["c"]);
    let p = params(&sim, "c");
    let expected_sts = string_to_sign("POST", &p);
    let reply = post_form(&sim, &signed("POST", p, "wrong-secret"));
    assert_error(&reply, 400, "SignatureDoesNotMatch");
    let message = reply.json()["Message"].as_str().unwrap().to_owned();
    assert!(message.ends_with(&expected_sts), "{message}");
    assert!(sim.is_connected("c"));
    assert_eq!(sim.requests()[0].signature_valid, Some(false));
}

#[test]
fn a_changed_parameter_breaks_the_signature() {
    let sim = sim_with(&["c", "d"]);
    let body = signed("POST", params(&sim, "c"), SECRET).replace("ClientId=c", "ClientId=d");
    assert_error(&post_form(&sim, &body), 400, "SignatureDoesNotMatch");
    assert!(sim.is_connected("d"));
}

#[test]
fn an_unknown_access_key_is_404_not_found() {
    let sim = sim_with(&["c"]);
    let mut p = params(&sim, "c");
    p.insert("AccessKeyId".into(), "LTAI-nobody".into());
    assert_error(&post(&sim, p), 404, "InvalidAccessKeyId.NotFound");
}

#[test]
fn timestamps_more_than_15_minutes_off_the_simulators_clock_are_expired() {
    let sim = sim_with(&["c"]);
    for (offset, expected) in [
        (-16 * 60, 400),
        (16 * 60, 400),
        (-14 * 60, 200),
        (14 * 60, 200),
    ] {
        let mut p = params(&sim, "c");
        p.insert("Timestamp".into(), timestamp(sim.now() + offset));
        let reply = post(&sim, p);
        assert_eq!(reply.status, expected, "{offset}: {reply:#?}");
        if expected == 400 {
            assert_error(&reply, 400, "InvalidTimeStamp.Expired");
        }
    }
    sim.connect_client("c");
    sim.set_clock_offset(3600);
    let reply = post(&sim, params(&sim, "c")); // stamped with the simulator's own clock
    assert_eq!(reply.status, 200, "{reply:#?}");
    let mut p = params(&sim, "c");
    p.insert("Timestamp".into(), timestamp(sim.now() - 3600));
    assert_error(&post(&sim, p), 400, "InvalidTimeStamp.Expired");
    let mut p = params(&sim, "c");
    p.insert("Timestamp".into(), "2024-01-01T00:00:00.000Z".into());
    assert_error(&post(&sim, p), 400, "InvalidTimeStamp.Format");
}

#[test]
fn a_nonce_is_spent_once_the_signature_checks_out() {
    let sim = sim_with(&["c"]);
    let body = signed("POST", params(&sim, "c"), SECRET);
    assert_eq!(post_form(&sim, &body).status, 200);
    assert_error(&post_form(&sim, &body), 400, "SignatureNonceUsed");

    // Spent even when a vendor fault answered: the same bytes cannot be sent again.
    sim.connect_client("c");
    sim.fail_next(1, Fault::InternalError);
    let body = signed("POST", params(&sim, "c"), SECRET);
    assert_error(&post_form(&sim, &body), 500, "InternalError");
    assert_error(&post_form(&sim, &body), 400, "SignatureNonceUsed");
    assert!(sim.is_connected("c"));
    // A bad signature does not spend the nonce.
    let p = params(&sim, "c");
    assert_error(
        &post_form(&sim, &signed("POST", p.clone(), "x")),
        400,
        "SignatureDoesNotMatch",
    );
    assert_eq!(post(&sim, p).status, 200);
}

#[test]
fn every_required_parameter_is_checked_and_unknown_or_repeated_ones_refused() {
    let sim = sim_with(&["c"]);
    let names: Vec<String> = params(&sim, "c").keys().cloned().collect();
    for name in names.iter().chain(std::iter::once(&"Signature".to_owned())) {
        let mut p = params(&sim, "c");
        p.remove(name);
        let body: Vec<String> = signed("POST", p, SECRET)
            .split('&')
            .filter(|pair| !pair.starts_with("Signature=") || name != "Signature")
            .map(str::to_owned)
            .collect();
        let body = body.join("&");
        let reply = post_form(&sim, &body);
        assert_error(&reply, 400, "MissingParameter");
        assert!(reply.json()["Message"]
            .as_str()
            .unwrap()
            .contains(name.as_str()));
    }
    let mut p = params(&sim, "c");
    p.insert("Extra".into(), "1".into());
    assert_error(&post(&sim, p), 400, "InvalidParameter");
    let body = format!("{}&ClientId=c", signed("POST", params(&sim, "c"), SECRET));
    assert_error(&post_form(&sim, &body), 400, "InvalidParameter");
    assert!(sim.is_connected("c"));
}

#[test]
fn action_version_format_and_signature_method_must_be_the_documented_ones() {
    let sim = sim_with(&["c"]);
    let cases = [
        ("Action", "DescribeRegions", 404, "InvalidAction.NotFound"),
        ("Version", "2014-05-26", 400, "InvalidVersion"),
        ("Format", "XML", 400, "InvalidParameter"),
        ("SignatureMethod", "HMAC-SHA256", 400, "InvalidParameter"),
        ("SignatureVersion", "2.0", 400, "InvalidParameter"),
    ];
    for (name, value, status, code) in cases {
        let mut p = params(&sim, "c");
        p.insert(name.into(), value.into());
        assert_error(&post(&sim, p), status, code);
    }
    assert!(sim.is_connected("c"));
}

#[test]
fn only_post_with_a_form_body_or_get_on_the_root_path_is_served() {
    let sim = sim_with(&["c"]);
    let body = signed("POST", params(&sim, "c"), SECRET);
    let json = [("content-type", "application/json")];
    let url = format!("{}/", sim.url());
    let reply = http::send("POST", &url, &json, Some(body.as_bytes()));
    assert_error(&reply, 400, "MissingParameter");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let reply = http::send("PUT", &url, &form, Some(body.as_bytes()));
    assert_error(&reply, 405, "UnsupportedHTTPMethod");
    let reply = http::send("POST", &format!("{url}api"), &form, Some(body.as_bytes()));
    assert_error(&reply, 404, "InvalidAction.NotFound");
    assert!(sim.is_connected("c"));
}

#[test]
fn an_unknown_instance_a_forbidden_key_and_a_wrong_region_are_refused() {
    let config = AlibabaSimConfig::default()
        .with_clients(["c"])
        .with_unpermitted_key("LTAI-ro", "ro-secret")
        .with_region("cn-shanghai");
    let sim = AlibabaSim::start(config);
    let mut p = params(&sim, "c");
    p.insert("InstanceId".into(), "post-cn-other".into());
    assert_error(&post(&sim, p), 400, "MqttInstanceNotFound");
    let mut p = params(&sim, "c");
    p.insert("AccessKeyId".into(), "LTAI-ro".into());
    assert_error(
        &post_form(&sim, &signed("POST", p, "ro-secret")),
        400,
        "InstancePermissionCheckFailed",
    );
    let mut p = params(&sim, "c");
    p.insert("RegionId".into(), "cn-hangzhou".into());
    assert_error(&post(&sim, p), 400, "InvalidRegionId");
    assert!(sim.is_connected("c"));
    let mut p = params(&sim, "c");
    p.insert("RegionId".into(), "cn-shanghai".into());
    assert_eq!(post(&sim, p).status, 200);
}

#[test]
fn an_sts_token_must_match_when_configured_and_be_absent_otherwise() {
    let sim = AlibabaSim::start(AlibabaSimConfig::default().with_security_token("sts+tok/en="));
    assert_error(
        &close(&sim, "c"),
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    );
    let mut p = params(&sim, "c");
    p.insert("SecurityToken".into(), "sts+tok/en=".into());
    assert_eq!(post(&sim, p).status, 200);
    let plain = sim_with(&[]);
    let mut p = params(&plain, "c");
    p.insert("SecurityToken".into(), "unexpected".into());
    assert_error(&post(&plain, p), 400, "InvalidSecurityToken.Malformed");
}

#[test]
fn vendor_faults_answer_after_authentication_and_leave_the_client_connected() {
    let sim = sim_with(&["c"]);
    sim.set_fault(AlibabaFault::Throttling {
        retry_after: Some(3),
    });
    let reply = close(&sim, "c");
    assert_error(&reply, 429, "Throttling.User");
    assert_eq!(reply.header("retry-after"), Some("3"));
    sim.set_fault(AlibabaFault::ApiNotSupport);
    assert_error(&close(&sim, "c"), 404, "ApiNotSupport");
    sim.set_fault(AlibabaFault::SuccessFalse("PermissionCheckFailed"));
    let reply = close(&sim, "c");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["Success"], false);
    assert_eq!(reply.json()["Code"], "PermissionCheckFailed");
    sim.set_fault(Fault::InternalError);
    assert_error(&close(&sim, "c"), 500, "InternalError");
    // A bad signature still answers first.
    let p = params(&sim, "c");
    assert_error(
        &post_form(&sim, &signed("POST", p, "x")),
        400,
        "SignatureDoesNotMatch",
    );
    assert!(sim.is_connected("c"));
    sim.set_fault(Fault::None);
    assert_eq!(close(&sim, "c").status, 200);
    assert!(!sim.is_connected("c"));
}

#[test]
fn transport_faults_answer_before_any_check() {
    let sim = sim_with(&["c"]);
    sim.set_fault(Fault::Garbage);
    let reply = post_form(&sim, "anything");
    assert_eq!(reply.status, 200);
    assert!(reply.json.is_none(), "{reply:#?}");
    sim.set_fault(Fault::HangUp);
    let url = format!("{}/", sim.url());
    assert!(http::try_send("POST", &url, &[], Some(b"x")).is_err());
    sim.fail_next(1, Fault::None);
    assert_eq!(close(&sim, "c").status, 200);
    let statuses: Vec<Option<u16>> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(200), None, Some(200)]);
    let read = sim.requests();
    assert_eq!(read.len(), 3);
    assert_eq!((read[1].status, read[1].code.as_deref()), (None, None));
    sim.clear_calls();
    assert!(sim.calls().is_empty() && sim.requests().is_empty());
}

#[test]
fn delay_holds_every_answer_back() {
    let sim = sim_with(&["c"]);
    sim.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(close(&sim, "c").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn client_ids_arrive_decoded_byte_exact() {
    let ids = ["GID_a@@@b c", "a+b", "100%", "日本語/ü", "*~"];
    let sim = sim_with(&ids);
    for id in ids {
        assert_eq!(close(&sim, id).status, 200, "{id}");
    }
    assert!(sim.connected_clients().is_empty());
    let read: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| r.param("ClientId").unwrap().to_owned())
        .collect();
    assert_eq!(read, ids);
}
