//! `sever approvals [list | show ID | approve ID | deny ID]`: four-eyes approvals on a
//! running Sever (`GET /v1/approvals`, `GET /v1/approvals/{id}`,
//! `POST /v1/approvals/{id}/approve`, `POST /v1/approvals/{id}/deny`).

use super::table::Table;
use super::{fail, hint_unauthenticated, print_json, problem_line, Connection, Exit, Remote};
use crate::out::Out;
use clap::Args;
use serde_json::Value;

/// `sever approvals`.
#[derive(Debug, Args)]
pub(crate) struct ApprovalsArgs {
    /// What to do: list (the pending approvals you may see), show, approve or deny.
    #[arg(value_parser = ["list", "show", "approve", "deny"], default_value = "list")]
    pub(crate) command: String,
    /// The approval id (for show, approve and deny).
    #[arg(required_if_eq_any = [("command", "show"), ("command", "approve"), ("command", "deny")])]
    pub(crate) id: Option<String>,
    /// Print Sever's JSON answer instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// Runs `sever approvals`. Exit status: as for `sever act` after an approval (the run's
/// answer), else 0 on success and 1 on a refusal.
pub(crate) fn run(args: &ApprovalsArgs) -> Exit {
    let remote = match Remote::new(&args.connection) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    // The id goes into the path: only what an id can be (32 hex digits) is sent as is.
    let id = args.id.as_deref().unwrap_or_default();
    if args.command != "list" && !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        eprintln!("sever: {id:?} is not an approval id (32 hexadecimal digits)");
        return Exit::Usage;
    }
    let reply = match args.command.as_str() {
        "show" => remote.get(&format!("/v1/approvals/{id}"), true),
        "approve" => remote.post_empty(&format!("/v1/approvals/{id}/approve")),
        "deny" => remote.post_empty(&format!("/v1/approvals/{id}/deny")),
        _ => remote.get("/v1/approvals", true),
    };
    let reply = match reply {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    hint_unauthenticated(&remote, &reply);
    let exit = if reply.status == 200 || args.command == "approve" {
        Exit::of(&reply)
    } else {
        Exit::Failed
    };
    if args.json {
        print_json(&reply);
        return exit;
    }
    let mut out = Out::new();
    match (args.command.as_str(), &reply.json) {
        ("approve", _) => super::act::render(&mut out, &reply, exit),
        (_, Some(body)) if reply.status == 200 && body["approvals"].is_array() => {
            list(&mut out, body)
        }
        (_, Some(body)) if reply.status == 200 => show(&mut out, body),
        _ => out.line(format!("error: {}", problem_line(&reply))),
    }
    out.flush();
    exit
}

/// One row per pending approval.
fn list(out: &mut Out, body: &Value) {
    let mut table = Table::new(
        &["ID", "ACTION", "BACKENDS", "REQUESTER", "EXPIRES", "REASON"],
        2,
    );
    for a in body["approvals"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&a["approval_id"]),
            text(&a["action"]),
            joined(&a["backends"]),
            text(&a["requester"]),
            text(&a["expires_at"]),
            text(&a["reason"]),
        ]);
    }
    table.write(out);
}

/// One approval: its fields, then what its request would send to each backend.
fn show(out: &mut Out, body: &Value) {
    for key in [
        "approval_id",
        "state",
        "action",
        "backends",
        "target",
        "reason",
        "requester",
        "approvers",
        "created_at",
        "expires_at",
        "decided_by",
        "decided_at",
        "result",
    ] {
        let value = &body[key];
        let shown = match value {
            Value::Array(_) => joined(value),
            Value::Object(_) => value.to_string(),
            _ => text(value),
        };
        out.line(format!("{key}: {shown}"));
    }
    for planned in body["planned"].as_array().into_iter().flatten() {
        if planned["problem"].is_object() {
            out.line(format!(
                "{}: {}",
                text(&planned["backend"]),
                text(&planned["problem"]["detail"])
            ));
        }
        super::act::planned(out, planned);
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn joined(value: &Value) -> String {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect::<Vec<_>>()
        .join(",")
}
