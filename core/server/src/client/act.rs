//! `sever act ACTION`: one canonical request (`POST /v1/actions`) built from flags, and
//! its answer as a table: one row per backend, then what a dry-run would send.

use super::table::Table;
use super::{fail, hint_unauthenticated, print_json, problem_line, Connection, Exit, Remote};
use crate::out::Out;
use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args};
use serde_json::{json, Map, Value};
use sever_plugin_abi::{Action, TargetField};

/// `sever act`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("selection").required(true).args(["backend", "backends", "tags"])))]
pub(crate) struct ActArgs {
    /// What to do: disconnect, terminate or unbind.
    #[arg(value_parser = PossibleValuesParser::new(Action::ALL.map(Action::as_str)))]
    pub(crate) action: String,
    /// The backend to act on.
    #[arg(long, value_name = "NAME")]
    pub(crate) backend: Option<String>,
    /// Fan-out: act on each of these backends at once (comma-separated names).
    #[arg(long, value_name = "A,B", value_delimiter = ',', num_args = 1)]
    pub(crate) backends: Option<Vec<String>>,
    /// Fan-out: act on every backend that carries all these tags (comma-separated).
    #[arg(long, value_name = "T1,T2", value_delimiter = ',', num_args = 1)]
    pub(crate) tags: Option<Vec<String>>,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Why: written to the audit log and passed to vendors that take one.
    #[arg(long)]
    pub(crate) reason: String,
    /// Send nothing; show what would be sent to each vendor (secrets redacted).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Idempotency-Key: a retry with the same key gets the first answer and sends nothing.
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Print Sever's JSON answer instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// One flag per canonical target field (`--client-id` is `target.client_id`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Target (which fields each action takes: `sever plugins --remote`)")]
pub(crate) struct TargetArgs {
    /// target.client_id: an MQTT client id, an AMQP connection name, a queue.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// target.connection_id: one connection, in the vendor's own naming.
    #[arg(long, value_name = "ID")]
    connection_id: Option<String>,
    /// target.user_id: a user whose every connection is meant.
    #[arg(long, value_name = "ID")]
    user_id: Option<String>,
    /// target.source: where messages come from (an exchange, an entity).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    /// target.topic: a topic or routing key.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// target.message_type: a vendor's message class (IUDX message-type).
    #[arg(long, value_name = "TYPE")]
    message_type: Option<String>,
    /// target.host_id: a host whose every connection is meant (PrivX).
    #[arg(long, value_name = "ID")]
    host_id: Option<String>,
}

impl TargetArgs {
    /// The flag's value for `field`. Exhaustive, so a new canonical field needs its flag.
    fn value(&self, field: TargetField) -> Option<&str> {
        match field {
            TargetField::ClientId => self.client_id.as_deref(),
            TargetField::ConnectionId => self.connection_id.as_deref(),
            TargetField::UserId => self.user_id.as_deref(),
            TargetField::Source => self.source.as_deref(),
            TargetField::Topic => self.topic.as_deref(),
            TargetField::MessageType => self.message_type.as_deref(),
            TargetField::HostId => self.host_id.as_deref(),
        }
    }

    fn to_json(&self) -> Value {
        let fields: Map<String, Value> = TargetField::ALL
            .into_iter()
            .filter_map(|f| Some((f.as_str().to_owned(), Value::from(self.value(f)?))))
            .collect();
        Value::Object(fields)
    }
}

impl ActArgs {
    /// The canonical request body.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "action": self.action,
            "target": self.target.to_json(),
            "reason": self.reason,
        });
        if let Some(b) = &self.backend {
            body["backend"] = json!(b);
        } else if let Some(list) = &self.backends {
            body["backends"] = json!(list);
        } else if let Some(tags) = &self.tags {
            body["backends"] = json!({ "tags": tags });
        }
        if self.dry_run {
            body["dry_run"] = json!(true);
        }
        body
    }
}

/// Runs `sever act`.
pub(crate) fn run(args: &ActArgs) -> Exit {
    let remote = match Remote::new(&args.connection) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let mut headers = Vec::new();
    if let Some(key) = &args.idempotency_key {
        headers.push(("idempotency-key", key.as_str()));
    }
    let reply = match remote.post_json("/v1/actions", &args.body(), &headers) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    hint_unauthenticated(&remote, &reply);
    let exit = Exit::of(&reply);
    if args.json {
        print_json(&reply);
        return exit;
    }
    let mut out = Out::new();
    render(&mut out, &reply, exit);
    out.flush();
    exit
}

/// The answer for people.
pub(crate) fn render(out: &mut Out, reply: &super::Reply, exit: Exit) {
    let Some(body) = reply.json.as_ref().filter(|b| b.is_object()) else {
        out.line(format!("error: {}", problem_line(reply)));
        return;
    };
    if exit == Exit::Pending {
        out.line(format!(
            "waiting: Sever answered {} (for example, for an approval)",
            reply.status
        ));
        for (key, value) in body.as_object().into_iter().flatten() {
            out.line(format!("  {key}: {}", scalar(value)));
        }
        return;
    }
    let results: Vec<&Value> = match body["results"].as_array() {
        Some(list) => list.iter().collect(),
        None if body["backend"].is_string() => vec![body],
        None => Vec::new(),
    };
    if results.is_empty() {
        out.line(format!("error: {}", problem_line(reply)));
    } else {
        let mut table = Table::new(&["BACKEND", "OUTCOME", "VENDOR", "DETAIL"], 2);
        for r in &results {
            table.row(row(r));
        }
        table.write(out);
        for r in &results {
            planned(out, r);
        }
    }
    footer(out, reply, body);
}

/// One result: backend, outcome (or problem code), what the vendor said, the detail.
fn row(result: &Value) -> Vec<String> {
    // A fan-out result carries its problem inside; a single answer is the problem.
    let problem = if result["problem"].is_object() {
        &result["problem"]
    } else {
        result
    };
    let outcome = match result["outcome"].as_str() {
        Some("failed") | None => problem["code"].as_str().unwrap_or("failed"),
        Some(outcome) => outcome,
    };
    let vendor = problem["vendor"]
        .as_object()
        .or_else(|| result["vendor"].as_object());
    vec![
        result["backend"].as_str().unwrap_or_default().to_owned(),
        outcome.to_owned(),
        vendor.map(vendor_text).unwrap_or_default(),
        problem["detail"].as_str().unwrap_or_default().to_owned(),
    ]
}

/// `status=404 code=NOT_FOUND`: what the vendor said, its message left out (the detail
/// already quotes it).
fn vendor_text(vendor: &Map<String, Value>) -> String {
    let status = vendor
        .get("status")
        .map(|s| format!("status={}", scalar(s)));
    let rest = vendor
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "status" | "message"))
        .map(|(k, v)| format!("{k}={}", scalar(v)));
    status.into_iter().chain(rest).collect::<Vec<_>>().join(" ")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a dry-run result would send, as HTTP messages (or a step kind's own fields).
pub(crate) fn planned(out: &mut Out, result: &Value) {
    let Some(requests) = result["requests"].as_array() else {
        return;
    };
    let backend = result["backend"].as_str().unwrap_or_default();
    out.line("");
    out.line(format!(
        "{backend} would be sent {} (nothing was sent):",
        match requests.len() {
            1 => "1 request".to_owned(),
            n => format!("{n} requests"),
        }
    ));
    for request in requests {
        match (request["method"].as_str(), request["kind"].as_str()) {
            (Some(method), _) => {
                out.line(format!("  {method} {}", scalar(&request["url"])));
                for (name, value) in request["headers"].as_object().into_iter().flatten() {
                    out.line(format!("  {name}: {}", scalar(value)));
                }
                if let Some(body) = request["body"].as_str().filter(|b| !b.is_empty()) {
                    out.line(format!("  body: {body}"));
                }
            }
            (None, kind) => {
                out.line(format!(
                    "  {} {}",
                    kind.unwrap_or("step"),
                    scalar(&request["url"])
                ));
                for (name, value) in request.as_object().into_iter().flatten() {
                    if !matches!(name.as_str(), "kind" | "url") {
                        out.line(format!("  {name}: {}", scalar(value)));
                    }
                }
            }
        }
    }
    if let Some(stops) = result["planning_stops"].as_str() {
        out.line(format!("  planning stops: {stops}"));
    }
}

/// The request id, the summary of a fan-out, and whether this was a replay.
fn footer(out: &mut Out, reply: &super::Reply, body: &Value) {
    let mut line = format!("request {}", scalar(&body["request_id"]));
    if let Some(summary) = body["summary"].as_object() {
        let count = |k: &str| summary.get(k).and_then(Value::as_u64).unwrap_or(0);
        line.push_str(&format!(
            " · {} done, {} accepted, {} failed",
            count("done"),
            count("accepted"),
            count("failed")
        ));
        if let Some(n) = summary.get("dry_run").and_then(Value::as_u64) {
            line.push_str(&format!(", {n} dry-run"));
        }
    }
    out.line("");
    out.line(line);
    if reply.header("idempotent-replayed") == Some("true") {
        out.line("replayed: the first answer to this Idempotency-Key; nothing was sent again");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;

    #[derive(Debug, clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        act: ActArgs,
    }

    fn parse(args: &[&str]) -> Result<ActArgs, clap::Error> {
        use clap::Parser;
        let argv = std::iter::once("act").chain(args.iter().copied());
        Wrapper::try_parse_from(argv).map(|w| w.act)
    }

    #[test]
    fn every_canonical_target_field_has_its_flag() {
        let command = Wrapper::command();
        for field in TargetField::ALL {
            let flag = field.as_str().replace('_', "-");
            assert!(
                command.get_arguments().any(|a| a.get_long() == Some(&flag)),
                "no --{flag} for target.{}",
                field.as_str()
            );
        }
    }

    #[test]
    fn flags_become_the_canonical_request() {
        let act = parse(&[
            "disconnect",
            "--backend",
            "mqtt-eu",
            "--client-id",
            "sensor-17",
            "--reason",
            "INC-1",
        ])
        .unwrap();
        assert_eq!(
            act.body(),
            json!({"action": "disconnect", "backend": "mqtt-eu",
                   "target": {"client_id": "sensor-17"}, "reason": "INC-1"})
        );
        let fan = parse(&[
            "unbind",
            "--tags",
            "iot,eu",
            "--source",
            "s",
            "--topic",
            "t",
            "--reason",
            "r",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(fan.body()["backends"], json!({"tags": ["iot", "eu"]}));
        assert_eq!(fan.body()["dry_run"], json!(true));
        let names = parse(&[
            "terminate",
            "--backends",
            "a,b",
            "--user-id",
            "u",
            "--reason",
            "r",
        ]);
        assert_eq!(names.unwrap().body()["backends"], json!(["a", "b"]));
    }

    #[test]
    fn one_selection_and_a_reason_are_required_and_actions_are_checked() {
        assert!(parse(&["disconnect", "--client-id", "c", "--reason", "r"]).is_err());
        assert!(parse(&[
            "disconnect",
            "--backend",
            "a",
            "--tags",
            "t",
            "--reason",
            "r"
        ])
        .is_err());
        assert!(parse(&["disconnect", "--backend", "a", "--client-id", "c"]).is_err());
        assert!(parse(&["kick", "--backend", "a", "--reason", "r"]).is_err());
    }

    #[test]
    fn a_partial_fan_out_shows_one_row_per_backend_and_the_summary() {
        let body = json!({"request_id": "r1", "action": "disconnect", "results": [
            {"backend": "a", "outcome": "done", "vendor": {"status": 200}},
            {"backend": "b", "outcome": "failed", "problem": {"code": "target_not_found",
             "detail": "no such client", "vendor": {"status": 404, "message": "gone"}}}],
            "summary": {"done": 1, "accepted": 0, "failed": 1}});
        let reply = super::super::Reply {
            status: 207,
            headers: Vec::new(),
            text: body.to_string(),
            json: Some(body),
        };
        let mut out = Out::new();
        render(&mut out, &reply, Exit::of(&reply));
        assert_eq!(Exit::of(&reply), Exit::Partial);
        assert_eq!(
            out.as_str(),
            "BACKEND  OUTCOME           VENDOR      DETAIL\n\
             a        done              status=200\n\
             b        target_not_found  status=404  no such client\n\
             \n\
             request r1 · 1 done, 0 accepted, 1 failed\n"
        );
    }
}
