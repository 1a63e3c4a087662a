//! Property tests, end to end: arbitrary identifiers (Unicode, `/`, `%`, `?`, `#`, `..`,
//! spaces, quotes, CR/LF and other control characters, 255–257 bytes) sent through the real
//! `sever` and each adapter plugin either are refused with `400 invalid_request` and nothing
//! reaches the vendor simulator, or reach it byte-exact, decoded, in the one place the
//! vendor's contract puts them — never another path, an extra header, a query or another
//! form parameter.
//!
//! One simulator and one `sever` per adapter (per test), 96 generated cases each; a
//! failure shows the shrunk identifier. Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::collections::BTreeSet;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{
    AlibabaSim, AlibabaSimConfig, CedaloSim, IudxSim, IudxSimConfig, NexusSim, NexusSimConfig,
    PrivxSim, PrivxSimConfig, RecordedCall, SimConfig,
};

/// Cases per adapter: enough to meet every kind of piece many times, few enough that the
/// whole suite runs in seconds.
const CASES: u32 = 96;
const ONCALL: &str = "oncall-token-ident-5c1e";

// ---------------------------------------------------------------------------------------
// Generated identifiers, and the spec's rule for them
// ---------------------------------------------------------------------------------------

/// Characters URLs, forms, JSON and headers give a meaning to.
const SYNTAX: &[&str] = &[
    "/", "%", "?", "#", "..", ".", " ", "\"", "'", "\\", "+", "&", "=", ";", ":", "@", "~", "*",
    "<", ">", "{", "}", "|", "^", "`", "[", "]", ",", "!", "$", "(", ")", "%2F", "%00", "%25",
    "../", "-", "_",
];
/// Control characters (each refused by the spec) and their usual smuggling forms.
const CONTROLS: &[&str] = &[
    "\r",
    "\n",
    "\r\nX-Evil: 1",
    "\t",
    "\0",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{9f}",
];
/// Non-ASCII text, including invisible and direction-changing characters (not control
/// characters, so the spec accepts them).
const UNICODE: &[&str] = &[
    "é", "ß", "日本", "🦀", "\u{200b}", "\u{202e}", "\u{2028}", "\u{feff}", "\u{fffd}", "İ", "ﬁ",
    "Ω",
];
/// Whole identifiers at the edges of the rule.
const EDGES: &[&str] = &[
    "", ".", "..", "./", "../x", "%2e%2e", " ", "a ", " a", "/", "?", "#", "%",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9]{1,4}".prop_map(String::from),
        3 => select(SYNTAX).prop_map(String::from),
        1 => select(CONTROLS).prop_map(String::from),
        2 => select(UNICODE).prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ]
}

/// Arbitrary identifiers: concatenated pieces, the edge values, and values of exactly
/// 255, 256 or 257 bytes (the limit is 256).
fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(piece(), 1..12).prop_map(|p| p.concat()),
        1 => select(EDGES).prop_map(String::from),
        2 => (select(vec![255usize, 256, 257]), prop::collection::vec(piece(), 0..4))
            .prop_map(|(bytes, pieces)| exactly(bytes, &pieces.concat())),
    ]
}

/// Identifiers made of printable ASCII pieces only: more of them fit in an HTTP header, where
/// the spec's rule is narrowed (control characters come with [`identifier`]).
fn ascii_identifier() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9]{1,4}".prop_map(String::from),
        3 => select(SYNTAX).prop_map(String::from),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|p| p.concat())
}

/// `head` followed by `x`s up to exactly `bytes` bytes (cut at a character boundary
/// first, if `head` is longer).
fn exactly(bytes: usize, head: &str) -> String {
    let mut value = head.to_owned();
    while value.len() > bytes {
        value.pop();
    }
    while value.len() < bytes {
        value.push('x');
    }
    value
}

/// The spec's rule (§3): non-empty, at most 256 bytes, no control characters, not `.` or
/// `..`.
fn spec_accepts(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && !id.chars().any(char::is_control)
        && id != "."
        && id != ".."
}

/// RFC 3986 unreserved characters kept, every other byte `%XX` (uppercase): the oracle for
/// path segments and form values, written independently of the SDK.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Runs `CASES` cases of `strategy` through `case`, printing how many were accepted.
fn run<S: Strategy>(
    adapter: &str,
    strategy: S,
    case: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let (accepted, total) = (Cell::new(0usize), Cell::new(0usize));
    let result = runner.run(&strategy, |value| {
        total.set(total.get() + 1);
        accepted.set(accepted.get() + usize::from(case(value)?));
        Ok(())
    });
    let (accepted, total) = (accepted.get(), total.get());
    eprintln!("{adapter}: {total} identifier cases run, {accepted} reached the vendor, the rest refused with 400");
    if let Err(err) = result {
        panic!("{adapter}: {err}");
    }
}

/// Asserts a refusal: 400 `invalid_request`.
fn refused(reply: &Reply, calls: &[RecordedCall], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        (reply.status, reply.code()),
        (400, Some("invalid_request")),
        "{} should be refused with 400: {:#?}",
        what,
        reply
    );
    prop_assert!(
        calls.is_empty(),
        "{} reached the vendor: {:#?}",
        what,
        calls
    );
    Ok(())
}

/// Asserts an answer other than a 400: the identifier went to the vendor.
fn not_refused(reply: &Reply, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        reply.status != 400 && reply.json.is_some() && reply.header("x-request-id").is_some(),
        "{} should reach the vendor: {:#?}",
        what,
        reply
    );
    Ok(())
}

fn header_names(call: &RecordedCall) -> BTreeSet<String> {
    call.headers.iter().map(|(n, _)| n.clone()).collect()
}

fn act(sever: &Sever, body: &Value) -> Reply {
    http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body.to_string())
}

fn config(plugin_file: &str, backend: &str, plugin: &str, url: &str, settings: &str) -> String {
    format!(
        r#"server: {{ listen: "127.0.0.1:{{{{PORT}}}}", request_timeout_ms: 5000 }}
plugins: [ {{ path: "{{{{PLUGIN_DIR}}}}/{plugin_file}" }} ]
auth:
  tokens:
    - {{ name: oncall, token_env: ONCALL_TOKEN, allow: [ {{ backends: ["*"], actions: ["disconnect", "terminate", "unbind"] }} ] }}
audit: {{ path: "audit.jsonl" }}
backends:
  {backend}:
    plugin: {plugin}
    url: "{url}"
    timeout_ms: 2000
    retries: 0
    settings: {settings}
"#
    )
}

// ---------------------------------------------------------------------------------------
// Cedalo: the client id in one path segment and in the JSON body
// ---------------------------------------------------------------------------------------

#[test]
fn cedalo_client_ids_reach_the_vendor_byte_exact_or_are_refused() {
    let sim = CedaloSim::start(SimConfig::new("p 1", "b/1", "ced-tok").with_clients(["sensor-1"]));
    let settings = r#"{ project_id: "p 1", broker_id: "b/1", token: "ced-tok" }"#;
    let yaml = config("libsever_cedalo.so", "mqtt", "cedalo", &sim.url(), settings);
    let sever = Sever::start(&yaml, &[("ONCALL_TOKEN", ONCALL)]);
    let body =
        |id: &str| json!({"action": "disconnect", "backend": "mqtt", "target": {"client_id": id}});
    act(&sever, &body("sensor-1")).expect_success();
    let baseline = header_names(&sim.calls()[0]);

    run("cedalo", identifier(), |id| {
        sim.clear_calls();
        let accepted = spec_accepts(&id);
        if accepted {
            sim.connect_client(&id);
        }
        let reply = act(&sever, &body(&id));
        let calls = sim.calls();
        if !accepted {
            refused(&reply, &calls, &format!("{id:?}"))?;
            return Ok(false);
        }
        prop_assert_eq!(reply.status, 200, "{:?}: {:#?}", id, reply);
        prop_assert_eq!(calls.len(), 1, "{:?}: {:#?}", id, calls);
        let call = &calls[0];
        let path = format!(
            "/api/projects/p%201/brokers/b%2F1/clients/{}/disconnect",
            enc(&id)
        );
        prop_assert_eq!(&call.method, "PUT");
        prop_assert_eq!(&call.raw_path, &path, "{:?}", id);
        prop_assert_eq!(call.segments.get(6), Some(&id));
        prop_assert_eq!(&call.query, &None);
        prop_assert_eq!(header_names(call), baseline.clone(), "{:?}", id);
        prop_assert_eq!(call.json_body(), Some(json!({ "clientId": id.clone() })));
        prop_assert!(!sim.is_connected(&id), "{:?} still connected", id);
        Ok(true)
    });
}

// ---------------------------------------------------------------------------------------
// Nexus: the connection id in a path segment, the client id in the JSON body
// ---------------------------------------------------------------------------------------

#[test]
fn nexus_connection_and_client_ids_reach_the_vendor_byte_exact_or_are_refused() {
    let sim = NexusSim::start(
        NexusSimConfig::new("acme/eu 1")
            .with_bearer("nx-bear", "nx-app")
            .with_client_on("conn-1", "client-1"),
    );
    let settings =
        r#"{ tenant_id: "acme/eu 1", bearer_token: "nx-bear", application_token: "nx-app" }"#;
    let yaml = config("libsever_nexus.so", "idp", "nexus", &sim.url(), settings);
    let sever = Sever::start(&yaml, &[("ONCALL_TOKEN", ONCALL)]);
    let body = |client: &str, conn: &str| {
        json!({"action": "unbind", "backend": "idp",
               "target": {"client_id": client, "connection_id": conn}})
    };
    act(&sever, &body("client-1", "conn-1")).expect_success();
    let baseline = header_names(&sim.calls()[0]);

    run("nexus", (identifier(), identifier()), |(client, conn)| {
        sim.clear_calls();
        let reply = act(&sever, &body(&client, &conn));
        let calls = sim.calls();
        if !(spec_accepts(&client) && spec_accepts(&conn)) {
            refused(&reply, &calls, &format!("{client:?} / {conn:?}"))?;
            return Ok(false);
        }
        not_refused(&reply, &format!("{client:?} / {conn:?}"))?;
        prop_assert_eq!(calls.len(), 1, "{:#?}", calls);
        let call = &calls[0];
        let path = format!(
            "/v1/tenants/acme%2Feu%201/connections/{}/clients",
            enc(&conn)
        );
        prop_assert_eq!(&call.method, "PATCH");
        prop_assert_eq!(&call.raw_path, &path);
        prop_assert_eq!(call.segments.get(4), Some(&conn));
        prop_assert_eq!(&call.query, &None);
        prop_assert_eq!(header_names(call), baseline.clone());
        let expected = json!({ "enabled": false, "clientId": client.clone() });
        prop_assert_eq!(call.json_body(), Some(expected));
        Ok(true)
    });
}

// ---------------------------------------------------------------------------------------
// IUDX: source and topic in headers (ASCII, no surrounding blanks, else 400 too)
// ---------------------------------------------------------------------------------------

#[test]
fn iudx_sources_and_topics_reach_the_vendor_headers_byte_exact_or_are_refused() {
    let sim = IudxSim::start(
        IudxSimConfig::new()
            .with_entity("alice/app-1", "iudx-key")
            .with_entity("bob/sensor-1", "bob-key"),
    );
    let settings = r#"{ id: "alice/app-1", apikey: "iudx-key" }"#;
    let yaml = config("libsever_iudx.so", "iot", "iudx", &sim.url(), settings);
    let sever = Sever::start(&yaml, &[("ONCALL_TOKEN", ONCALL)]);
    let body = |source: &str, topic: &str| {
        json!({"action": "unbind", "backend": "iot",
               "target": {"source": source, "topic": topic, "message_type": "public"}})
    };
    act(&sever, &body("bob/sensor-1", "temp")).expect_success();
    let baseline = header_names(&sim.calls()[0]);
    // What a header can carry exactly: ASCII, and no blank at either end (HTTP strips it).
    let header_safe = |v: &str| {
        spec_accepts(v) && v.is_ascii() && !v.starts_with([' ', '\t']) && !v.ends_with([' ', '\t'])
    };

    let value = || prop_oneof![1 => identifier(), 3 => ascii_identifier()];
    run("iudx", (value(), value()), |(source, topic)| {
        sim.clear_calls();
        let reply = act(&sever, &body(&source, &topic));
        let calls = sim.calls();
        if !(header_safe(&source) && header_safe(&topic)) {
            refused(&reply, &calls, &format!("{source:?} / {topic:?}"))?;
            return Ok(false);
        }
        not_refused(&reply, &format!("{source:?} / {topic:?}"))?;
        prop_assert_eq!(calls.len(), 1, "{:#?}", calls);
        let call = &calls[0];
        prop_assert_eq!(&call.method, "POST");
        prop_assert_eq!(&call.raw_path, "/entity/unbind");
        prop_assert_eq!(&call.query, &None);
        prop_assert_eq!(&call.body, "");
        prop_assert_eq!(header_names(call), baseline.clone());
        prop_assert_eq!(call.header("to"), Some(source.as_str()));
        prop_assert_eq!(call.header("topic"), Some(topic.as_str()));
        prop_assert_eq!(call.header("message-type"), Some("public"));
        prop_assert_eq!(call.header("id"), Some("alice/app-1"));
        Ok(true)
    });
}

// ---------------------------------------------------------------------------------------
// PrivX: UUIDs only (anything else is a 400), in one path segment
// ---------------------------------------------------------------------------------------

/// UUID-shaped values (either case), near misses, and arbitrary identifiers.
fn privx_id() -> impl Strategy<Value = String> {
    let uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    prop_oneof![
        3 => uuid.prop_map(String::from),
        2 => (uuid, piece()).prop_map(|(u, p)| format!("{u}{p}")),
        2 => (piece(), uuid).prop_map(|(p, u)| format!("{p}{u}")),
        3 => identifier(),
    ]
}

fn is_uuid(id: &str) -> bool {
    let shape: Vec<usize> = id.split('-').map(str::len).collect();
    shape == [8, 4, 4, 4, 12] && id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

#[test]
fn privx_ids_reach_the_vendor_byte_exact_when_they_are_uuids_else_are_refused() {
    let sim = PrivxSim::start(PrivxSimConfig::new(
        "px-oauth",
        "px-secret",
        "px-api",
        "px-pass",
    ));
    let settings = r#"{ oauth_client_id: "px-oauth", oauth_client_secret: "px-secret", api_client_id: "px-api", api_client_secret: "px-pass" }"#;
    let yaml = config("libsever_privx.so", "pam", "privx", &sim.url(), settings);
    let sever = Sever::start(&yaml, &[("ONCALL_TOKEN", ONCALL)]);
    let fields = ["connection_id", "user_id", "host_id"];
    let body = |field: &str, id: &str| json!({"action": "terminate", "backend": "pam", "target": {field: id}});

    let cases = (select(fields.to_vec()), privx_id());
    run("privx", cases, |(field, id)| {
        sim.clear_calls();
        let reply = act(&sever, &body(field, &id));
        let terminate = sim.terminate_calls();
        let others: Vec<RecordedCall> = sim
            .calls()
            .into_iter()
            .filter(|c| !c.raw_path.starts_with("/connection-manager/"))
            .collect();
        prop_assert!(
            others
                .iter()
                .all(|c| c.raw_path == "/auth/api/v1/oauth/token" && c.query.is_none()),
            "only the token endpoint besides terminate: {:#?}",
            others
        );
        if !(spec_accepts(&id) && is_uuid(&id)) {
            refused(&reply, &terminate, &format!("{field} {id:?}"))?;
            return Ok(false);
        }
        not_refused(&reply, &format!("{field} {id:?}"))?;
        prop_assert_eq!(terminate.len(), 1, "{:#?}", terminate);
        let call = &terminate[0];
        let noun = field.trim_end_matches("_id");
        let path = format!("/connection-manager/api/v1/terminate/{noun}/{id}");
        prop_assert_eq!(&call.method, "POST");
        prop_assert_eq!(&call.raw_path, &path);
        prop_assert_eq!(&call.query, &None);
        Ok(true)
    });
}

// ---------------------------------------------------------------------------------------
// Alibaba: the client id as one signed form parameter
// ---------------------------------------------------------------------------------------

#[test]
fn alibaba_client_ids_reach_the_vendor_as_one_form_parameter_or_are_refused() {
    let sim = AlibabaSim::start(
        AlibabaSimConfig::new("post-cn-ident", "LTAIident", "ali-secret")
            .with_region("cn-shanghai")
            .with_clients(["sensor-1"]),
    );
    let settings = r#"{ instance_id: "post-cn-ident", access_key_id: "LTAIident", access_key_secret: "ali-secret", region_id: "cn-shanghai" }"#;
    let yaml = config(
        "libsever_alibaba_mqtt.so",
        "mqtt-cn",
        "alibaba-mqtt",
        &sim.url(),
        settings,
    );
    let sever = Sever::start(&yaml, &[("ONCALL_TOKEN", ONCALL)]);
    let body = |id: &str| json!({"action": "disconnect", "backend": "mqtt-cn", "target": {"client_id": id}});
    act(&sever, &body("sensor-1")).expect_success();
    let baseline = header_names(&sim.calls()[0]);
    let params: BTreeSet<String> = sim.requests()[0].params.keys().cloned().collect();

    run("alibaba-mqtt", identifier(), |id| {
        sim.clear_calls();
        let accepted = spec_accepts(&id);
        if accepted {
            sim.connect_client(&id);
        }
        let reply = act(&sever, &body(&id));
        let calls = sim.calls();
        if !accepted {
            refused(&reply, &calls, &format!("{id:?}"))?;
            return Ok(false);
        }
        prop_assert_eq!(reply.status, 200, "{:?}: {:#?}", id, reply);
        prop_assert_eq!(calls.len(), 1, "{:#?}", calls);
        let call = &calls[0];
        prop_assert_eq!(&call.raw_path, "/");
        prop_assert_eq!(&call.query, &None);
        prop_assert_eq!(header_names(call), baseline.clone());
        let encoded = format!("ClientId={}&", enc(&id));
        prop_assert!(call.body.contains(&encoded), "{:?}: {}", id, call.body);
        let read = &sim.requests()[0];
        prop_assert_eq!(read.param("ClientId"), Some(id.as_str()));
        prop_assert_eq!(read.signature_valid, Some(true));
        let names: BTreeSet<String> = read.params.keys().cloned().collect();
        prop_assert_eq!(names, params.clone(), "{:?}: no other parameter", id);
        Ok(true)
    });
}

// ---------------------------------------------------------------------------------------
// Size and depth limits of the canonical body
// ---------------------------------------------------------------------------------------

/// `sever` in front of a Cedalo simulator with `max_body_bytes: 1 MiB`.
fn limits_sever(sim: &CedaloSim) -> Sever {
    let settings = r#"{ project_id: "p1", broker_id: "b1", token: "ced-tok" }"#;
    let yaml = config("libsever_cedalo.so", "mqtt", "cedalo", &sim.url(), settings).replace(
        "request_timeout_ms: 5000",
        "request_timeout_ms: 5000, max_body_bytes: 1048576",
    );
    Sever::start(&yaml, &[("ONCALL_TOKEN", ONCALL)])
}

fn disconnect_ok(sever: &Sever, sim: &CedaloSim) {
    sim.connect_client("sensor-ok");
    let body =
        json!({"action": "disconnect", "backend": "mqtt", "target": {"client_id": "sensor-ok"}});
    act(sever, &body).expect_success();
}

#[test]
fn deeply_nested_json_is_refused_with_400_and_the_server_keeps_serving() {
    let sim = CedaloSim::start(SimConfig::new("p1", "b1", "ced-tok"));
    let mut sever = limits_sever(&sim);
    let url = sever.url("/v1/actions");
    let depth = 200_000; // 400 kB, under max_body_bytes: only the depth is wrong
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for body in [
        format!(r#"{{"action":"disconnect","backend":"mqtt","target":{{"client_id":{nested}}}}}"#),
        format!(r#"{{"action":"disconnect","backend":"mqtt","reason":{nested},"target":{{}}}}"#),
        format!(r#"{{"action":{}"#, "{\"a\":".repeat(depth)),
        nested.clone(),
    ] {
        let reply = http::post_json(&url, Some(ONCALL), &body);
        reply.expect_problem(400, "invalid_request");
    }
    assert!(sever.is_running(), "sever exited on nested JSON");
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
    disconnect_ok(&sever, &sim);
}

#[test]
fn huge_strings_under_the_body_limit_are_refused_with_400() {
    let sim = CedaloSim::start(SimConfig::new("p1", "b1", "ced-tok"));
    let sever = limits_sever(&sim);
    let under = "x".repeat(1_000_000); // the body stays under 1 MiB
    let bodies = [
        json!({"action": "disconnect", "backend": "mqtt", "target": {"client_id": under}}),
        json!({"action": "disconnect", "backend": "mqtt", "target": {"client_id": "a"}, "reason": under}),
        json!({"action": under, "backend": "mqtt", "target": {"client_id": "a"}}),
        json!({"action": "disconnect", "backend": under, "target": {"client_id": "a"}}),
    ];
    for body in &bodies {
        act(&sever, body).expect_problem(400, "invalid_request");
    }
    // Over the limit is 413 at once: lifecycle.rs sends such bodies on a raw socket (an
    // HTTP client writing all of it races Sever closing the connection after its 413).
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
    disconnect_ok(&sever, &sim);
}

/// A chunked body (no `Content-Length`) that passes the limit and never ends: Sever must
/// answer 413 while the body is still arriving, not after reading it all.
#[test]
fn a_body_over_the_limit_is_refused_while_it_is_still_being_sent() {
    use std::io::{Read, Write};
    let sim = CedaloSim::start(SimConfig::new("p1", "b1", "ced-tok"));
    let sever = limits_sever(&sim);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", sever.port())).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
    // 2 MiB, twice the limit, and no last chunk: the body never ends.
    for _ in 0..32 {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break; // Sever stopped reading and closed: the answer is waiting
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "expected 413 before the body ended: {answer:?}"
    );
    assert!(answer.contains("payload_too_large"), "{answer:?}");
    disconnect_ok(&sever, &sim);
}
