use super::*;
use crate::plugin::{Action, Outcome};
use crate::problem::ProblemCode;

#[test]
fn cached_handles_record_under_the_right_labels() {
    let m = Metrics::new();
    let r = RequestMetrics::new(&m, "b1");
    let accepted = OutcomeLabel::success(Outcome::Accepted);
    r.record(Some(Action::Unbind), accepted, Some(0.002));
    r.record(Some(Action::Unbind), accepted, Some(0.002));
    r.record(None, OutcomeLabel::problem(ProblemCode::Internal), None);
    RequestMetrics::new(&m, "").record(
        None,
        OutcomeLabel::problem(ProblemCode::Unauthenticated),
        None,
    );
    r.record(Some(Action::Disconnect), OutcomeLabel::DRY_RUN, Some(0.001));
    let text = String::from_utf8(m.render()).unwrap_or_default();
    let value = |line: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(line)?.strip_prefix(' '))
            .map(str::to_owned)
    };
    for (series, expected) in [
        (
            r#"sever_requests_total{action="unbind",backend="b1",outcome="accepted"}"#,
            "2",
        ),
        (
            r#"sever_requests_total{action="",backend="b1",outcome="internal"}"#,
            "1",
        ),
        (
            r#"sever_requests_total{action="",backend="",outcome="unauthenticated"}"#,
            "1",
        ),
        (
            r#"sever_requests_total{action="disconnect",backend="b1",outcome="dry_run"}"#,
            "1",
        ),
        (
            r#"sever_request_duration_seconds_count{action="unbind",backend="b1"}"#,
            "2",
        ),
    ] {
        assert_eq!(
            value(series).as_deref(),
            Some(expected),
            "{series} in:\n{text}"
        );
    }
}

#[test]
fn every_outcome_label_has_its_own_slot_and_name() {
    let mut labels = vec![
        OutcomeLabel::success(Outcome::Done),
        OutcomeLabel::success(Outcome::Accepted),
        OutcomeLabel::DRY_RUN,
        OutcomeLabel::UNKNOWN,
    ];
    labels.extend(ProblemCode::ALL.map(OutcomeLabel::problem));
    assert_eq!(labels.len(), OutcomeLabel::COUNT);
    for (i, label) in labels.iter().enumerate() {
        assert_eq!(label.index(), i, "{}", label.name());
    }
    for code in ProblemCode::ALL {
        assert_eq!(OutcomeLabel::problem(code).name(), code.as_str());
    }
    assert_eq!(labels[0].name(), "done");
    assert_eq!(labels[2].name(), "dry_run");
}

#[test]
fn a_failed_reload_clears_the_success_gauge_and_keeps_the_last_success_time() {
    let m = Metrics::new();
    m.config_loaded(false, true, 100.0);
    m.config_loaded(true, false, 200.0);
    assert_eq!(m.config_last_reload_successful.get(), 0);
    assert_eq!(m.config_last_reload_success_timestamp.get(), 100.0);
    m.config_loaded(true, true, 300.0);
    assert_eq!(m.config_last_reload_successful.get(), 1);
    assert_eq!(m.config_last_reload_success_timestamp.get(), 300.0);
    assert_eq!(m.config_reloads.with_label_values(&["success"]).get(), 1);
    assert_eq!(m.config_reloads.with_label_values(&["failure"]).get(), 1);
}

#[test]
fn every_spec_metric_is_exported() {
    let m = Metrics::new();
    m.requests
        .with_label_values(&["disconnect", "b", "done"])
        .inc();
    m.request_duration
        .with_label_values(&["disconnect", "b"])
        .observe(0.01);
    m.upstream_requests
        .with_label_values(&["b", "p", "http", "2xx"])
        .inc();
    m.upstream_duration
        .with_label_values(&["b", "p"])
        .observe(0.01);
    m.plugin_info.with_label_values(&["p", "1", "1"]).set(1);
    m.plugin_panics.with_label_values(&["p"]).inc();
    m.circuit_state.with_label_values(&["b"]).set(0);
    let text = String::from_utf8(m.render()).unwrap_or_default();
    for name in [
        "sever_requests_total",
        "sever_request_duration_seconds_bucket",
        "sever_upstream_requests_total",
        "sever_upstream_duration_seconds_bucket",
        "sever_in_flight_requests",
        "sever_plugin_info",
        "sever_plugin_panics_total",
        "sever_circuit_state",
        "sever_idempotency_evictions_total",
        "sever_idempotency_replays_total",
        "sever_audit_write_failures_total",
        "sever_config_reloads_total",
        "sever_config_last_reload_successful",
        "sever_config_last_reload_success_timestamp_seconds",
        "sever_http_connections",
        "sever_http_connections_refused_total",
        "sever_http_refusals_total",
    ] {
        let exported = text
            .lines()
            .any(|l| l.starts_with(name) && !l.starts_with('#'));
        assert!(exported, "{name} missing from:\n{text}");
    }
}
