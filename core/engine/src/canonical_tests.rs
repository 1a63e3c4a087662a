#![allow(clippy::unwrap_used)]
use super::*;

fn ok(body: &str) -> CanonicalRequest {
    parse(body.as_bytes()).unwrap()
}

fn bad(body: &str) -> String {
    parse(body.as_bytes()).unwrap_err().0
}

#[test]
fn a_full_request_parses() {
    let r = ok(
        r#"{"action":"disconnect","backend":"mqtt-eu","target":{"client_id":"s-17"},"reason":"INC-1","dry_run":true}"#,
    );
    assert_eq!(r.action, Action::Disconnect);
    assert_eq!(r.selection, Selection::One("mqtt-eu".into()));
    assert_eq!(r.target.client_id.as_deref(), Some("s-17"));
    assert_eq!(r.reason.as_deref(), Some("INC-1"));
    assert!(r.dry_run);
}

#[test]
fn fan_out_selections_parse() {
    let r = ok(r#"{"action":"terminate","backends":["a","b"],"target":{"user_id":"u"}}"#);
    assert_eq!(r.selection, Selection::Names(vec!["a".into(), "b".into()]));
    let r = ok(r#"{"action":"terminate","backends":{"tags":["eu"]},"target":{"user_id":"u"}}"#);
    assert_eq!(r.selection, Selection::Tags(vec!["eu".into()]));
}

#[test]
fn malformed_json_is_named() {
    assert!(bad("{").contains("malformed JSON"));
    assert!(bad("[]").contains("invalid request"));
}

#[test]
fn each_field_error_names_the_field() {
    assert!(bad(r#"{"backend":"b","target":{}}"#).contains("action is required"));
    assert!(bad(r#"{"action":"kick","backend":"b","target":{}}"#).contains("unknown action 'kick'"));
    assert!(bad(r#"{"action":"disconnect","target":{}}"#).contains("backend is required"));
    assert!(bad(r#"{"action":"disconnect","backend":"b"}"#).contains("target is required"));
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{"client_id":""}}"#)
            .contains("target.client_id must not be empty")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{"client_id":".."}}"#)
            .contains("'.' or '..'")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{"client_id":"a\nb"}}"#)
            .contains("control character")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{"client_id":5}}"#)
            .contains("target.client_id must be a string")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{"clientid":"x"}}"#)
            .contains("target.clientid is not a known target field")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","backends":["b"],"target":{}}"#)
            .contains("not both")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{},"extra":1}"#)
            .contains("unknown field `extra`")
    );
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":{},"dry_run":"yes"}"#)
            .contains("dry_run")
    );
}

#[test]
fn identifier_and_reason_lengths_are_bounded() {
    let long = "x".repeat(257);
    let body =
        format!(r#"{{"action":"disconnect","backend":"b","target":{{"client_id":"{long}"}}}}"#);
    assert!(bad(&body).contains("longer than 256 bytes"));
    let ok_len = "é".repeat(128);
    let body =
        format!(r#"{{"action":"disconnect","backend":"b","target":{{"client_id":"{ok_len}"}}}}"#);
    assert_eq!(ok(&body).target.client_id.unwrap().len(), 256);
    let reason = "r".repeat(513);
    let body =
        format!(r#"{{"action":"disconnect","backend":"b","target":{{}},"reason":"{reason}"}}"#);
    assert!(bad(&body).contains("reason is longer than 512 bytes"));
}

fn spec(sets: Vec<Vec<TargetField>>, optional: Vec<TargetField>) -> ActionSpec {
    ActionSpec {
        action: Action::Terminate,
        target_sets: sets,
        optional_fields: optional,
        description: String::new(),
    }
}

fn target(pairs: &[(TargetField, &str)]) -> Target {
    let mut t = Target::default();
    for (f, v) in pairs {
        *t.slot(*f) = Some((*v).to_owned());
    }
    t
}

#[test]
fn fitting_keeps_the_matching_set_and_drops_unrelated_fields() {
    use TargetField::*;
    let s = spec(vec![vec![ClientId]], vec![]);
    let fitted = fit_target(&target(&[(ClientId, "c"), (Topic, "t")]), &s).unwrap();
    assert_eq!(fitted, target(&[(ClientId, "c")]));
}

#[test]
fn fitting_names_missing_fields() {
    use TargetField::*;
    let s = spec(vec![vec![Source, Topic, MessageType]], vec![ClientId]);
    let e = fit_target(&target(&[(Source, "s")]), &s).unwrap_err().0;
    assert_eq!(e, "target is missing target.topic, target.message_type");
    let alt = spec(vec![vec![ConnectionId], vec![UserId]], vec![]);
    let e = fit_target(&Target::default(), &alt).unwrap_err().0;
    assert_eq!(
        e,
        "target is missing one of: target.connection_id, or target.user_id"
    );
}

#[test]
fn fields_from_two_alternatives_are_refused() {
    use TargetField::*;
    let alt = spec(vec![vec![ConnectionId], vec![UserId]], vec![]);
    let e = fit_target(&target(&[(ConnectionId, "c"), (UserId, "u")]), &alt)
        .unwrap_err()
        .0;
    assert!(e.contains("exactly one of"), "{e}");
    let alt = spec(vec![vec![ClientId, Source], vec![UserId]], vec![]);
    let e = fit_target(&target(&[(UserId, "u"), (ClientId, "c")]), &alt)
        .unwrap_err()
        .0;
    assert!(e.contains("cannot be combined"), "{e}");
}

#[test]
fn optional_fields_are_passed_on() {
    use TargetField::*;
    let s = spec(vec![vec![Source]], vec![ClientId]);
    let fitted = fit_target(&target(&[(Source, "s"), (ClientId, "c")]), &s).unwrap();
    assert_eq!(fitted, target(&[(Source, "s"), (ClientId, "c")]));
}

#[test]
fn members_read_like_a_json_map_repeated_keys_last_wins_escapes_and_sorted_errors() {
    let r = ok(r#"{"action":"disconnect","backend":"b","target":{"client_id":5,"client_id":"x"}}"#);
    assert_eq!(r.target.client_id.as_deref(), Some("x"));
    let r = ok(
        r#"{"action":"disc\u006fnnect","backend":"b\u0031","target":{"client_\u0069d":"x\"y"}}"#,
    );
    assert_eq!(r.action, Action::Disconnect);
    assert_eq!(r.selection, Selection::One("b1".into()));
    assert_eq!(r.target.client_id.as_deref(), Some("x\"y"));
    // With several bad members, the first in key order is named (as a map iterates).
    let e = bad(r#"{"action":"disconnect","backend":"b","target":{"zz":"1","aa":"2"}}"#);
    assert_eq!(e, "target.aa is not a known target field");
    let e = bad(r#"{"action":"disconnect","backend":"b","target":{"topic":1,"client_id":[]}}"#);
    assert_eq!(e, "target.client_id must be a string");
    assert!(bad(r#"{"action":null,"backend":"b","target":{}}"#).contains("action is required"));
    assert!(bad(r#"{"action":7,"backend":"b","target":{}}"#).contains("action must be a string"));
    assert!(
        bad(r#"{"action":"disconnect","backend":"b","target":[]}"#).contains("must be an object")
    );
}

#[test]
fn a_body_that_is_not_utf8_is_malformed_json_naming_the_position() {
    let e = parse(b"{\"action\":\"\xff\"}").unwrap_err().0;
    assert!(
        e.starts_with("malformed JSON: invalid unicode code point"),
        "{e}"
    );
    assert!(e.contains("column"), "{e}");
}
