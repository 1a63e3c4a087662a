//! The `approvals` section: rule matching, and each mistake with its exact error line.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::{parse_str, Config};
use std::path::Path;

const FILE: &str = "/etc/sever/sever.yaml";

/// Two callers, `oncall` and `lead`.
const AUTH: &str = "
auth:
  tokens:
    - name: oncall
      token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      allow: [{ backends: ['*'], actions: [disconnect] }]
    - name: lead
      token_sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
      allow: [{ backends: ['*'], actions: [disconnect] }]
";

fn parse(approvals: &str) -> Result<Config, Vec<String>> {
    let yaml = format!("{AUTH}\napprovals:\n{approvals}");
    parse_str(&yaml, Path::new(FILE), &|_| None)
        .map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn errors(approvals: &str) -> Vec<String> {
    match parse(approvals) {
        Ok(config) => panic!("expected errors, got {:#?}", config.approvals),
        Err(errors) => errors,
    }
}

fn rule(approvals: &str) -> ApprovalRule {
    let config = parse(approvals).unwrap_or_else(|e| panic!("{e:#?}"));
    config.approvals.rules.into_iter().next().unwrap()
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

#[test]
fn a_valid_section_reads_every_key_with_defaults() {
    let r = rule(
        "  rules:\n    - { backends: ['idp-*'], tags: [critical], actions: [terminate], \
         min_backends: 3, approvers: [lead, oncall], ttl_ms: 60000 }\n",
    );
    assert_eq!(r.index, 0);
    assert_eq!(r.backends[0].as_str(), "idp-*");
    assert_eq!(r.tags, ["critical"]);
    assert_eq!(r.actions, [Action::Terminate]);
    assert_eq!(r.min_backends, Some(3));
    assert_eq!(r.approvers, ["lead", "oncall"]);
    assert_eq!(r.ttl, Duration::from_secs(60));
    let r = rule("  rules: [ { approvers: [lead] } ]\n");
    assert_eq!(r.ttl, DEFAULT_APPROVAL_TTL);
    assert!(r.backends.is_empty() && r.tags.is_empty() && r.actions.is_empty());
    let none = parse_str(AUTH, Path::new(FILE), &|_| None).unwrap();
    assert!(none.approvals.rules.is_empty());
}

#[test]
fn every_stated_condition_must_hold() {
    let eu: Vec<String> = tags(&["mqtt", "eu"]);
    let crit: Vec<String> = tags(&["critical"]);
    let by_tag = rule("  rules: [ { tags: [critical], approvers: [lead] } ]\n");
    assert!(by_tag.matches(
        Action::Disconnect,
        [("a", eu.as_slice()), ("b", crit.as_slice())]
    ));
    assert!(!by_tag.matches(Action::Disconnect, [("a", eu.as_slice())]));

    let by_name =
        rule("  rules: [ { backends: ['idp-*'], actions: [terminate], approvers: [lead] } ]\n");
    assert!(by_name.matches(Action::Terminate, [("idp-main", eu.as_slice())]));
    assert!(!by_name.matches(Action::Disconnect, [("idp-main", eu.as_slice())]));
    assert!(!by_name.matches(Action::Terminate, [("mqtt-eu", eu.as_slice())]));

    let wide = rule("  rules: [ { min_backends: 3, approvers: [lead] } ]\n");
    let two = [("a", eu.as_slice()), ("b", eu.as_slice())];
    assert!(!wide.matches(Action::Disconnect, two));
    let three = [
        ("a", eu.as_slice()),
        ("b", eu.as_slice()),
        ("c", eu.as_slice()),
    ];
    assert!(wide.matches(Action::Disconnect, three));

    let both = rule("  rules: [ { tags: [critical], min_backends: 2, approvers: [lead] } ]\n");
    assert!(!both.matches(Action::Disconnect, [("b", crit.as_slice())]));
    assert!(both.matches(
        Action::Disconnect,
        [("a", eu.as_slice()), ("b", crit.as_slice())]
    ));
}

#[test]
fn the_first_matching_rule_decides() {
    let config = parse(
        "  rules:\n    - { tags: [critical], approvers: [lead], ttl_ms: 1000 }\n    - { \
         approvers: [oncall], ttl_ms: 2000 }\n",
    )
    .unwrap();
    let crit = tags(&["critical"]);
    let none: Vec<String> = Vec::new();
    let first = config
        .approvals
        .rule_for(Action::Disconnect, [("a", crit.as_slice())]);
    assert_eq!(first.map(|r| r.index), Some(0));
    let second = config
        .approvals
        .rule_for(Action::Disconnect, [("a", none.as_slice())]);
    assert_eq!(
        second.map(|r| r.approvers.clone()),
        Some(vec!["oncall".to_owned()])
    );
}

#[test]
fn each_mistake_is_reported_at_its_path() {
    let cases = [
        (
            "  rules: [ { approvers: [nobody] } ]\n",
            "approvals.rules[0].approvers[0]: names no caller: expected a name from auth.tokens \
             or auth.clients",
        ),
        (
            "  rules: [ { approvers: [] } ]\n",
            "approvals.rules[0].approvers: must name at least one caller (a name from \
             auth.tokens or auth.clients)",
        ),
        (
            "  rules: [ { approvers: [lead, lead] } ]\n",
            "approvals.rules[0].approvers[1]: listed twice",
        ),
        (
            "  rules: [ { approvers: [lead] }, { actions: [kick], approvers: [lead] } ]\n",
            "approvals.rules[1].actions[0]: unknown action (expected disconnect, terminate or \
             unbind)",
        ),
        (
            "  rules: [ { tags: [Bad], approvers: [lead] } ]\n",
            "approvals.rules[0].tags[0]: invalid tag: use 1 to 63 characters from a-z, 0-9, `_` \
             and `-`, starting with a letter or digit",
        ),
        (
            "  rules: [ { backends: ['[x'], approvers: [lead] } ]\n",
            "approvals.rules[0].backends[0]: invalid pattern: invalid range pattern",
        ),
        (
            "  rules: [ { min_backends: 1, approvers: [lead] } ]\n",
            "approvals.rules[0].min_backends: must be at least 2",
        ),
        (
            "  rules: [ { ttl_ms: 0, approvers: [lead] } ]\n",
            "approvals.rules[0].ttl_ms: must be at least 1",
        ),
        (
            "  rules: [ { approvers: [lead], approver: [lead] } ]\n",
            "approvals.rules[0].approver: unknown key (expected one of backends, tags, actions, \
             min_backends, approvers, ttl_ms)",
        ),
        (
            "  rule: []\n",
            "approvals.rule: unknown key (expected rules)",
        ),
    ];
    for (yaml, line) in cases {
        assert_eq!(errors(yaml), vec![format!("{FILE}:{line}")], "{yaml}");
    }
}

#[test]
fn approvals_need_authentication() {
    let yaml =
        "server: { insecure_no_auth: true }\napprovals:\n  rules: [ { approvers: [anonymous] } ]\n";
    let errors: Vec<String> = parse_str(yaml, Path::new(FILE), &|_| None)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with(&format!(
        "{FILE}:approvals: approvals need caller authentication"
    )));
}

#[test]
fn rules_that_can_never_match_are_warned_about() {
    let yaml = format!(
        "{AUTH}\nbackends:\n  mqtt-eu: {{ plugin: cedalo, url: 'http://h', tags: [eu] }}\n\
         approvals:\n  rules: [ {{ backends: ['idp-*', 'mqtt-*'], tags: [critcal, eu], \
         approvers: [lead] }} ]\n"
    );
    let config = parse_str(&yaml, Path::new(FILE), &|_| None).unwrap();
    let lines: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            format!("{FILE}:approvals.rules[0].backends[0]: matches no configured backend"),
            format!("{FILE}:approvals.rules[0].tags[0]: no configured backend carries this tag"),
        ]
    );
}
