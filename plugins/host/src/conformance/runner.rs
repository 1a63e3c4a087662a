//! Runs one case through a loaded library and lists every difference from what the case
//! declares.

use super::file::{Case, CaseFile, Ending, Expect, Flow, RequestExpect, StepSpec};
use super::matcher::{form_params, json_diff, shown, subset_diff, Matcher};
use crate::{Flow as Running, Instance, InstanceError, Plugin, PluginFault, Resume};
use serde_json::{Map, Value};
use sever_plugin_abi::{
    ActionSpec, PluginInfo, Problem, Request, Step, Success, Target, TargetField, VendorRequest,
};
use std::sync::Arc;

/// Runs a case; the result lists the differences (empty when the case passes).
pub(crate) fn run_case(plugin: &Arc<Plugin>, file: &CaseFile, case: &Case) -> Vec<String> {
    let flows = match case.flows(&file.env) {
        Ok(flows) => flows,
        Err(e) => return vec![format!("the case itself is wrong: {e}")],
    };
    let spec = match &case.backend {
        Some(patch) => patch.apply(&file.backend),
        None => file.backend.clone(),
    };
    let instance = match plugin.instantiate(&spec) {
        Err(InstanceError::Fault(call)) => return vec![format!("creating the instance: {call}")],
        Err(InstanceError::Settings(errors)) => Err(errors),
        Ok(created) => Ok(created),
    };
    if let Some(expected) = &case.settings_errors {
        return settings_errors(plugin.info(), &spec.settings, expected, instance.err());
    }
    let instance = match instance {
        Ok(instance) => instance,
        Err(errors) => {
            let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return vec![format!(
                "the plugin refused the backend's settings: {}",
                listed.join("; ")
            )];
        }
    };
    let mut out = Vec::new();
    for (i, flow) in flows.iter().enumerate() {
        let label = if i == 0 {
            String::new()
        } else {
            format!("then[{}] ", i - 1)
        };
        let problems = run_flow(plugin.info(), &instance, flow);
        out.extend(problems.into_iter().map(|p| format!("{label}{p}")));
        if !out.is_empty() {
            // Later flows depend on this one's effects (a cached token): stop here.
            break;
        }
    }
    out
}

/// Compares the settings errors with the expected keys, and checks that no secret value
/// of the settings appears in any message.
fn settings_errors(
    info: &PluginInfo,
    settings: &Map<String, Value>,
    expected: &[String],
    errors: Option<Vec<sever_plugin_abi::SettingError>>,
) -> Vec<String> {
    let Some(errors) = errors else {
        return vec![format!(
            "settings errors: expected keys {expected:?}, but the plugin accepted the settings"
        )];
    };
    let mut out = Vec::new();
    let mut got: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    if got != want {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        out.push(format!(
            "settings errors: expected keys {want:?}, got {got:?} ({})",
            listed.join("; ")
        ));
    }
    // A secret shorter than 4 characters would match by accident; test with longer ones.
    let secrets = info
        .secret_keys()
        .filter_map(|key| settings.get(key).and_then(Value::as_str))
        .filter(|value| value.len() >= 4);
    for secret in secrets {
        if let Some(e) = errors.iter().find(|e| e.message.contains(secret)) {
            out.push(format!(
                "settings error for `{}` shows a secret setting's value",
                e.key
            ));
        }
    }
    out
}

/// The longest identifier Sever accepts in a target, in bytes.
const MAX_IDENTIFIER_BYTES: usize = 256;
/// The longest `reason` Sever accepts, in bytes.
const MAX_REASON_BYTES: usize = 512;

/// The checks the host makes before a plugin sees a request (identifiers and reason as
/// Sever's request validation checks them, then `fit_target`).
fn host_would_accept(info: &PluginInfo, request: &Request) -> Result<(), String> {
    let Some(spec) = info.action(request.action) else {
        return Err(format!(
            "the plugin does not declare the action `{}`: Sever would answer 422 before calling it",
            request.action
        ));
    };
    for field in request.target.present() {
        let value = request.target.field(field);
        let fault = if value.is_empty() {
            Some("is empty")
        } else if value.len() > MAX_IDENTIFIER_BYTES {
            Some("is longer than 256 bytes")
        } else if value.chars().any(char::is_control) {
            Some("contains a control character")
        } else if value == "." || value == ".." {
            Some("is '.' or '..'")
        } else {
            None
        };
        if let Some(fault) = fault {
            return Err(format!(
                "target.{field} {fault}: Sever answers 400 before calling the plugin"
            ));
        }
    }
    if let Some(reason) = &request.reason {
        if reason.len() > MAX_REASON_BYTES || reason.chars().any(char::is_control) {
            return Err(
                "the reason is longer than 512 bytes or holds a control character: Sever \
                 answers 400 before calling the plugin"
                    .into(),
            );
        }
    }
    fit(&request.target, spec).map_err(|e| format!("Sever would refuse this target: {e}"))
}

fn fit(target: &Target, spec: &ActionSpec) -> Result<(), String> {
    let complete: Vec<&Vec<_>> = spec
        .target_sets
        .iter()
        .filter(|set| set.iter().all(|f| target.get(*f).is_some()))
        .collect();
    let [chosen] = complete.as_slice() else {
        let sets: Vec<String> = spec.target_sets.iter().map(|s| fields(s)).collect();
        return Err(format!(
            "it must hold the fields of exactly one declared set: {}",
            sets.join(" | ")
        ));
    };
    match target
        .present()
        .find(|f| !chosen.contains(f) && !spec.optional_fields.contains(f))
    {
        Some(extra) => Err(format!(
            "target.{extra} is outside the chosen set ({}) and the optional fields",
            fields(chosen)
        )),
        None => Ok(()),
    }
}

/// `source + topic`.
fn fields(set: &[TargetField]) -> String {
    let names: Vec<&str> = set.iter().map(|f| f.as_str()).collect();
    names.join(" + ")
}

fn run_flow(info: &PluginInfo, instance: &Instance, flow: &Flow<'_>) -> Vec<String> {
    let request = flow.request.to_request();
    if let Err(e) = host_would_accept(info, &request) {
        return vec![format!("the case itself is wrong: {e}")];
    }
    let mut env = match flow.env.to_env() {
        Ok(env) => env,
        Err(e) => return vec![format!("the case itself is wrong: {e}")],
    };
    let (mut running, mut step) = match instance.start(&request, &env) {
        Ok(started) => started,
        Err(e) => return vec![format!("flow_start: {e}")],
    };
    for (i, expected) in flow.steps.iter().enumerate() {
        let n = i + 1;
        if step.exchange().is_none() {
            return vec![format!(
                "step {n}: expected a vendor request, but the flow ended: {}",
                compact(&step)
            )];
        }
        let diff = exchange_diff(&expected.expect, &step);
        if !diff.is_empty() {
            let mut out: Vec<String> = diff
                .into_iter()
                .map(|d| format!("step {n} request {d}"))
                .collect();
            out.push(format!("step {n}: the plugin planned {}", compact(&step)));
            return out;
        }
        if let Some(over) = &expected.env {
            env = flow.env.patched(Some(over)).to_env().unwrap_or(env);
        }
        step = match resume(&mut running, expected, &env) {
            Ok(next) => next,
            Err(e) => return vec![format!("step {n}: flow_resume: {e}")],
        };
    }
    outcome_diff(flow, &step)
}

fn resume(
    running: &mut Running<'_>,
    step: &StepSpec,
    env: &sever_plugin_abi::Env,
) -> Result<Step, PluginFault> {
    let Some(response) = &step.respond else {
        return running.resume(
            Resume::Retry {
                attempt: step.retry.unwrap_or(1),
            },
            env,
        );
    };
    // The case file's own checks made sure the answer is of the step's kind.
    if let Some(reply) = &response.redis {
        return running.resume(Resume::Redis(reply), env);
    }
    if let Some(result) = &response.sql {
        return running.resume(Resume::Sql(result), env);
    }
    if let Some(result) = &response.mqtt {
        return running.resume(Resume::Mqtt(result), env);
    }
    if let Some(replies) = &response.nats {
        return running.resume(Resume::Nats(replies), env);
    }
    let headers = response.raw_headers();
    let body = response.body_bytes();
    running.resume(
        Resume::Response {
            status: response.status.unwrap_or_default(),
            headers: &headers,
            body: &body,
        },
        env,
    )
}

/// Every difference between the expected and the planned exchange.
fn exchange_diff(expect: &Expect, planned: &Step) -> Vec<String> {
    let kind = planned.kind();
    if kind != expect.kind() {
        return vec![format!(
            "kind: expected a {} exchange, got a {} one",
            expect.kind().as_str(),
            kind.as_str()
        )];
    }
    match (expect, planned) {
        (Expect::Http(expect), Step::Send(sent)) => request_diff(expect, sent),
        (Expect::Exchange { fields, .. }, step) => {
            // The step's JSON form is `{"<kind>": {…}}`: compare the listed members of the
            // inner object.
            let json = serde_json::to_value(step).unwrap_or_default();
            let inner = json
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            subset_diff(fields, &inner)
        }
        _ => Vec::new(),
    }
}

/// Every difference between the expected and the planned HTTP request.
fn request_diff(expect: &RequestExpect, sent: &VendorRequest) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, matcher: &Matcher, actual: Option<&str>| {
        if !matcher.accepts(actual) {
            out.push(format!("{what}: expected {matcher}, got {}", shown(actual)));
        }
    };
    if let Some(method) = &expect.method {
        check(
            "method",
            &Matcher::Exact(method.clone()),
            Some(&sent.method),
        );
    }
    if let Some(url) = &expect.url {
        check("url", url, Some(&sent.url));
    }
    for (name, matcher) in &expect.headers {
        let actual = sent
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        check(&format!("header {name}"), matcher, actual);
    }
    if let Some(body) = &expect.body {
        check("body", body, Some(&sent.body));
    }
    if let Some(share) = &expect.share {
        check("share", share, sent.share.as_deref());
    }
    if let Some(purpose) = &expect.purpose {
        check("purpose", purpose, sent.purpose.as_deref());
    }
    if !expect.form.is_empty() {
        let params = form_params(&sent.body);
        for (name, matcher) in &expect.form {
            let actual = params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str());
            check(&format!("form {name}"), matcher, actual);
        }
    }
    if let Some(json) = &expect.json {
        match serde_json::from_str::<Value>(&sent.body) {
            Ok(actual) => out.extend(
                json_diff(json, &actual)
                    .into_iter()
                    .map(|d| format!("json {d}")),
            ),
            Err(e) => out.push(format!(
                "json: expected {json}, got a body that is not JSON ({e}): {:?}",
                sent.body
            )),
        }
    }
    if let Some(idempotent) = expect.idempotent {
        if idempotent != sent.idempotent {
            out.push(format!(
                "idempotent: expected {idempotent}, got {}",
                sent.idempotent
            ));
        }
    }
    if expect.timeout_ms.is_some() && expect.timeout_ms != sent.timeout_ms {
        out.push(format!(
            "timeout_ms: expected {:?}, got {:?}",
            expect.timeout_ms, sent.timeout_ms
        ));
    }
    for secret in &expect.redact {
        if !sent.redact.contains(secret) {
            out.push(format!(
                "redact: expected {secret:?} among {:?}",
                sent.redact
            ));
        }
    }
    out
}

/// Every difference between the declared ending and the plugin's last step.
fn outcome_diff(flow: &Flow<'_>, step: &Step) -> Vec<String> {
    let n = flow.steps.len() + 1;
    match (flow.ending, step) {
        (_, planned) if planned.exchange().is_some() => vec![format!(
            "step {n}: the plugin planned another vendor request, but the case declares no more steps: {}",
            compact(planned)
        )],
        (Ending::Done | Ending::Accepted, Step::Done(success)) => success_diff(flow, success),
        (Ending::Kind(_) | Ending::Code(_), Step::Fail(problem)) => problem_diff(flow, problem),
        (expected, actual) => vec![format!(
            "outcome: expected {expected}, got {}",
            compact(actual)
        )],
    }
}

fn success_diff(flow: &Flow<'_>, success: &Success) -> Vec<String> {
    let mut out = Vec::new();
    let expected = if flow.ending == Ending::Accepted {
        "accepted"
    } else {
        "done"
    };
    if success.outcome.as_str() != expected {
        out.push(format!(
            "outcome: expected {expected}, got {}",
            success.outcome.as_str()
        ));
    }
    if let Some(vendor) = flow.vendor {
        out.extend(
            subset_diff(vendor, &success.vendor)
                .into_iter()
                .map(|d| format!("vendor {d}")),
        );
    }
    if !out.is_empty() {
        out.push(format!(
            "the plugin answered {}",
            compact(&Step::Done(success.clone()))
        ));
    }
    out
}

fn problem_diff(flow: &Flow<'_>, problem: &Problem) -> Vec<String> {
    let mut out = Vec::new();
    if !matches!(flow.ending, Ending::Done | Ending::Accepted) && !flow.ending.accepts(problem.kind)
    {
        let (kind, code) = (problem.kind.as_str(), problem.kind.canonical_code());
        let got = if kind == code {
            format!("problem {kind}")
        } else {
            format!("problem {kind} (answered {code})")
        };
        out.push(format!("outcome: expected {}, got {got}", flow.ending));
    }
    if let Some(vendor) = flow.vendor {
        let empty = Map::new();
        out.extend(
            subset_diff(vendor, problem.vendor.as_ref().unwrap_or(&empty))
                .into_iter()
                .map(|d| format!("vendor {d}")),
        );
    }
    if let Some(detail) = flow.detail {
        if !detail.accepts(Some(&problem.detail)) {
            out.push(format!(
                "detail: expected {detail}, got {:?}",
                problem.detail
            ));
        }
    }
    if let Some(retryable) = flow.retryable {
        if retryable != problem.retryable {
            out.push(format!(
                "retryable: expected {retryable}, got {}",
                problem.retryable
            ));
        }
    }
    if let Some(retry_after) = flow.retry_after {
        if !retry_after.accepts(problem.retry_after.as_deref()) {
            out.push(format!(
                "retry_after: expected {retry_after}, got {}",
                shown(problem.retry_after.as_deref())
            ));
        }
    }
    if !out.is_empty() {
        out.push(format!(
            "the plugin answered {}",
            compact(&Step::Fail(problem.clone()))
        ));
    }
    out
}

/// A step as one line of JSON, for failure messages.
fn compact(step: &Step) -> String {
    serde_json::to_string(step).unwrap_or_else(|e| format!("{step:?} ({e})"))
}
