//! The OpenAPI document against the code: a change on either side without the other fails
//! here.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::api::{check_content_type, route, Route, RouteError};
use crate::canonical::{self, MAX_IDENTIFIER_BYTES, MAX_REASON_BYTES};
use crate::plugin::{Action, TargetField};
use crate::problem::ProblemCode;
use serde_json::Value;
use std::collections::BTreeSet;

/// Methods probed against [`route`].
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Every route. A new [`Route`] variant fails to compile in [`path_of`] until it is added
/// there, here, and to `openapi.json`.
const ROUTES: [Route; 12] = [
    Route::Actions,
    Route::Backends,
    Route::Plugins,
    Route::Healthz,
    Route::Readyz,
    Route::Metrics,
    Route::OpenApi,
    Route::Audit,
    Route::Approvals,
    Route::Approval,
    Route::ApprovalApprove,
    Route::ApprovalDeny,
];

fn path_of(route: Route) -> &'static str {
    match route {
        Route::Actions => "/v1/actions",
        Route::Backends => "/v1/backends",
        Route::Plugins => "/v1/plugins",
        Route::Healthz => "/healthz",
        Route::Readyz => "/readyz",
        Route::Metrics => "/metrics",
        Route::OpenApi => "/openapi.json",
        Route::Audit => "/v1/audit",
        Route::Approvals => "/v1/approvals",
        Route::Approval => "/v1/approvals/{id}",
        Route::ApprovalApprove => "/v1/approvals/{id}/approve",
        Route::ApprovalDeny => "/v1/approvals/{id}/deny",
    }
}

fn doc() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// Follows a local `$ref` (`#/components/...`) once, or returns the value itself.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"))
        }
        None => value,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
}

/// (path, method in upper case, operation) for every documented operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !method.starts_with("x-") {
                ops.push((path.clone(), method.to_ascii_uppercase(), op));
            }
        }
    }
    ops
}

/// Every answer a documented operation can give: (where, status, response object).
fn responses(doc: &Value) -> Vec<(String, u16, &Value)> {
    let mut all = Vec::new();
    for (path, method, op) in operations(doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            let status: u16 = status.parse().expect("a numeric status");
            all.push((format!("{method} {path}"), status, resolve(doc, response)));
        }
    }
    // Answers on any path, described in `info.description`.
    for (name, status) in [("NotFound", 404), ("MethodNotAllowed", 405)] {
        let response = &doc["components"]["responses"][name];
        all.push((format!("components/responses/{name}"), status, response));
    }
    all
}

/// The problem codes a response's `application/problem+json` schema allows.
fn problem_codes(response: &Value) -> Option<Vec<String>> {
    let schema = response.pointer("/content/application~1problem+json/schema")?;
    Some(strings(&schema["properties"]["code"]["enum"]))
}

fn header<'a>(doc: &'a Value, response: &'a Value, name: &str) -> Option<&'a Value> {
    response["headers"].get(name).map(|h| resolve(doc, h))
}

#[test]
fn the_document_is_openapi_3_1_and_served_as_json() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let answer = answer();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.headers,
        vec![("content-type", "application/json".to_owned())]
    );
    assert_eq!(answer.body, DOCUMENT.as_bytes());
}

#[test]
fn every_local_reference_resolves() {
    fn walk(doc: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(_)) = map.get("$ref") {
                    resolve(doc, value);
                }
                map.values().for_each(|v| walk(doc, v));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v)),
            _ => {}
        }
    }
    let doc = doc();
    walk(&doc, &doc);
}

#[test]
fn every_problem_code_is_documented_with_its_status_type_and_title() {
    let doc = doc();
    let problem = schema(&doc, "Problem");
    let codes: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(strings(&schema(&doc, "ProblemCode")["enum"]), codes);
    let cases = problem["oneOf"].as_array().unwrap();
    assert_eq!(cases.len(), ProblemCode::ALL.len());
    for (code, case) in ProblemCode::ALL.iter().zip(cases) {
        let p = &case["properties"];
        assert_eq!(p["code"]["const"], code.as_str(), "{case}");
        assert_eq!(p["status"]["const"], code.status(), "{code}");
        assert_eq!(p["type"]["const"], code.type_uri(), "{code}");
        assert_eq!(p["title"]["const"], code.title(), "{code}");
    }
    assert_eq!(
        strings(&problem["required"]),
        ["type", "title", "status", "code", "detail", "request_id"]
    );
    let answer = crate::problem::ApiProblem::new(ProblemCode::TargetNotFound, "x")
        .on_backend("b")
        .to_json("r");
    for member in answer.as_object().unwrap().keys() {
        assert!(
            problem["properties"].get(member).is_some(),
            "problem member {member} is not documented"
        );
    }
}

#[test]
fn every_problem_answer_lists_codes_of_its_own_status_and_every_code_is_answered() {
    let doc = doc();
    let mut answered = BTreeSet::new();
    for (at, status, response) in responses(&doc) {
        if at.starts_with("HEAD ") {
            assert!(
                response.get("content").is_none(),
                "{at} {status} has no body"
            );
            continue;
        }
        assert!(
            response.get("content").is_some(),
            "{at} {status} has a body"
        );
        let Some(codes) = problem_codes(response) else {
            continue;
        };
        for name in codes {
            let code = ProblemCode::parse(&name).unwrap_or_else(|| panic!("{at}: {name}"));
            assert_eq!(code.status(), status, "{at} lists {name}");
            answered.insert(name);
        }
    }
    let all: BTreeSet<String> = ProblemCode::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(answered, all, "codes no documented answer gives");
}

#[test]
fn every_answer_carries_x_request_id_and_refusals_carry_their_headers() {
    let doc = doc();
    for (at, status, response) in responses(&doc) {
        let id = header(&doc, response, "X-Request-Id")
            .unwrap_or_else(|| panic!("{at} {status} has no X-Request-Id"));
        assert_eq!(id["required"], true);
        let required = |name: &str| {
            let h = header(&doc, response, name)
                .unwrap_or_else(|| panic!("{at} {status} has no {name}"));
            assert_eq!(h["required"], true, "{at} {status} {name}");
        };
        match status {
            401 => required("WWW-Authenticate"),
            405 => required("Allow"),
            429 | 503 if problem_codes(response).is_some() => {
                assert!(header(&doc, response, "Retry-After").is_some(), "{at}");
            }
            _ => {}
        }
    }
}

#[test]
fn every_route_is_documented_with_its_methods_and_token() {
    let doc = doc();
    let ops = operations(&doc);
    let documented: BTreeSet<&str> = ops.iter().map(|(p, _, _)| p.as_str()).collect();
    let routed: BTreeSet<&str> = ROUTES.iter().map(|r| path_of(*r)).collect();
    assert_eq!(documented, routed);
    for r in ROUTES {
        let path = path_of(r);
        let methods: BTreeSet<&str> = ops
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, m, _)| m.as_str())
            .collect();
        let Some(method) = methods.iter().copied().find(|m| *m != "HEAD") else {
            panic!("{path}: no method but HEAD");
        };
        let expected: BTreeSet<&str> = if method == "GET" {
            ["GET", "HEAD"].into()
        } else {
            [method].into()
        };
        assert_eq!(
            methods, expected,
            "{path}: HEAD is documented wherever GET is"
        );
        for probe in METHODS {
            match route(probe, path) {
                Ok(found) => {
                    assert!(
                        methods.contains(probe),
                        "{probe} {path} is routed, not documented"
                    );
                    assert_eq!(found, r, "{probe} {path}");
                }
                Err(RouteError::MethodNotAllowed { allow }) => {
                    assert!(
                        !methods.contains(probe),
                        "{probe} {path} is documented, refused"
                    );
                    assert_eq!(allow, method, "Allow on {path}");
                }
                Err(RouteError::NotFound) => panic!("{path} is documented but not routed"),
            }
        }
        for (_, _, op) in ops.iter().filter(|(p, _, _)| p == path) {
            let security = op["security"].as_array().expect("explicit security");
            assert_eq!(!security.is_empty(), r.needs_token(), "{path} security");
            if r.needs_token() {
                // A bearer token, or over mTLS a client certificate (`auth.clients`).
                let either = serde_json::json!([{"bearer": []}, {"clientCertificate": []}]);
                assert_eq!(op["security"], either, "{path}");
                assert!(op["responses"].get("401").is_some(), "{path} answers 401");
            } else {
                assert!(
                    op["responses"].get("401").is_none(),
                    "{path} needs no token"
                );
            }
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["clientCertificate"]["type"], "mutualTLS");
    assert_eq!(route("GET", "/nowhere"), Err(RouteError::NotFound));
    assert_eq!(
        RouteError::NotFound.problem().code,
        ProblemCode::NotFound,
        "components/responses/NotFound"
    );
    let refused = RouteError::MethodNotAllowed { allow: "GET" }.problem().code;
    assert_eq!(refused, ProblemCode::MethodNotAllowed);
}

#[test]
fn the_action_request_takes_json_and_documents_every_status_it_can_answer() {
    let doc = doc();
    let op = &doc["paths"]["/v1/actions"]["post"];
    let content = &op["requestBody"]["content"];
    assert_eq!(content.as_object().unwrap().len(), 1);
    assert!(content.get(CONTENT_TYPE).is_some(), "the body is JSON");
    assert!(check_content_type(Some(b"application/json")).is_ok());
    let refused = check_content_type(Some(b"text/plain")).unwrap_err();
    assert_eq!(refused.code, ProblemCode::UnsupportedMediaType);
    let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
    assert_eq!(
        statuses,
        [
            "200", "202", "207", "400", "401", "403", "404", "408", "409", "413", "415", "422",
            "429", "431", "500", "501", "502", "503", "504", "505"
        ]
    );
    let headers: Vec<String> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(&doc, p)["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(headers, ["Idempotency-Key", "X-Request-Id", "traceparent"]);
}

#[test]
fn every_action_is_documented() {
    let doc = doc();
    let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(strings(&schema(&doc, "Action")["enum"]), actions);
}

#[test]
fn every_target_field_is_documented_with_the_identifier_limits() {
    let doc = doc();
    let fields: Vec<&str> = TargetField::ALL.iter().map(|f| f.as_str()).collect();
    let target = schema(&doc, "Target");
    // serde_json's map is sorted: compare sets (the enum below keeps the spec's order).
    let documented: BTreeSet<&str> = target["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(documented, fields.iter().copied().collect());
    assert_eq!(strings(&schema(&doc, "TargetField")["enum"]), fields);
    assert_eq!(target["additionalProperties"], false);
    for field in fields {
        let reference = &target["properties"][field]["allOf"][0]["$ref"];
        assert_eq!(reference, "#/components/schemas/Identifier", "{field}");
    }
    let id = schema(&doc, "Identifier");
    assert_eq!(id["minLength"], 1);
    assert_eq!(id["maxLength"], MAX_IDENTIFIER_BYTES);
    assert_eq!(strings(&id["not"]["enum"]), [".", ".."]);
    for refused in [".", "..", "", "a\u{7}b", "a\u{85}"] {
        assert!(
            canonical::check_identifier("f", refused).is_err(),
            "{refused:?}"
        );
    }
    let longest = "x".repeat(MAX_IDENTIFIER_BYTES);
    assert!(canonical::check_identifier("f", &longest).is_ok());
    assert!(canonical::check_identifier("f", &format!("{longest}x")).is_err());
    assert_pattern_refuses_exactly_control_characters(id["pattern"].as_str().unwrap());
    let reason = &schema(&doc, "ActionRequest")["properties"]["reason"];
    assert_eq!(reason["maxLength"], MAX_REASON_BYTES);
    assert_pattern_refuses_exactly_control_characters(reason["pattern"].as_str().unwrap());
}

/// The pattern is `^[^RANGES]*$` and its ranges are exactly the characters
/// [`char::is_control`] (what the code refuses) is true for.
fn assert_pattern_refuses_exactly_control_characters(pattern: &str) {
    let ranges = pattern
        .strip_prefix("^[^")
        .and_then(|p| p.strip_suffix("]*$"))
        .unwrap_or_else(|| panic!("unexpected pattern {pattern}"));
    let parts: Vec<&str> = ranges.split("\\u").skip(1).collect();
    let mut parsed = Vec::new();
    for pair in parts.chunks(2) {
        let [from, to] = pair else {
            panic!("ranges come in pairs: {pattern}")
        };
        let from = from.strip_suffix('-').expect("a range");
        let hex = |h: &str| u32::from_str_radix(h, 16).expect("\\uXXXX");
        parsed.push(hex(from)..=hex(to));
    }
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let refused = parsed.iter().any(|r| r.contains(&(c as u32)));
        assert_eq!(refused, c.is_control(), "U+{:04X} in {pattern}", c as u32);
    }
}

#[test]
fn the_request_examples_are_valid_requests_and_cover_every_field() {
    let doc = doc();
    let request = schema(&doc, "ActionRequest");
    assert_eq!(request["additionalProperties"], false);
    let documented: BTreeSet<String> = request["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let examples = doc["paths"]["/v1/actions"]["post"]["requestBody"]["content"][CONTENT_TYPE]
        ["examples"]
        .as_object()
        .unwrap();
    let mut used = BTreeSet::new();
    for (name, example) in examples {
        let body = example["value"].to_string();
        canonical::parse(body.as_bytes()).unwrap_or_else(|e| panic!("example {name}: {e}"));
        used.extend(example["value"].as_object().unwrap().keys().cloned());
    }
    assert_eq!(used, documented);
    // Fields the document does not know are refused.
    let unknown = r#"{"action":"disconnect","backend":"b","target":{"client_id":"c"},"x":1}"#;
    assert!(canonical::parse(unknown.as_bytes()).is_err());
}

#[test]
fn the_document_names_each_schema_once() {
    // A duplicate key would be silently dropped by a JSON parser: count the keys that
    // introduce components by scanning the text.
    let doc = doc();
    for kind in ["schemas", "responses", "headers", "parameters"] {
        for name in doc["components"][kind].as_object().unwrap().keys() {
            let needle = format!("\n      \"{name}\": {{");
            let count = DOCUMENT.matches(needle.as_str()).count();
            assert_eq!(count, 1, "components/{kind}/{name} appears {count} times");
        }
    }
}
