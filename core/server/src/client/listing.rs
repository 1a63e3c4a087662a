//! `sever backends`, `sever plugins --remote` and `sever health`: what a running Sever
//! serves, and whether it is up.

use super::table::Table;
use super::{fail, hint_unauthenticated, print_json, problem_line, Connection, Exit, Remote};
use crate::out::Out;
use clap::Args;
use serde_json::Value;

/// `sever backends`.
#[derive(Debug, Args)]
pub(crate) struct BackendsArgs {
    /// Print Sever's JSON answer instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// `sever health`.
#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// Ask `/readyz` (config and plugins loaded, listener serving) instead of `/healthz`.
    #[arg(long)]
    pub(crate) ready: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// `GET path` with the token; the answer, or the exit status of a failure (reported).
fn listing(remote: &Remote, path: &str, json: bool) -> Result<Value, Exit> {
    let reply = remote.get(path, true).map_err(|e| fail(&e))?;
    hint_unauthenticated(remote, &reply);
    if json {
        print_json(&reply);
    }
    if let (200, Some(body)) = (reply.status, &reply.json) {
        return Ok(body.clone());
    }
    if !json {
        eprintln!("sever: {}", problem_line(&reply));
    }
    Err(Exit::Failed)
}

/// Runs `sever backends`: name, plugin, tags, actions and breaker state of each.
pub(crate) fn backends(args: &BackendsArgs) -> Exit {
    let remote = match Remote::new(&args.connection) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let body = match listing(&remote, "/v1/backends", args.json) {
        Ok(body) if !args.json => body,
        Ok(_) => return Exit::Done,
        Err(exit) => return exit,
    };
    let mut table = Table::new(&["NAME", "PLUGIN", "TAGS", "ACTIONS", "BREAKER"], 2);
    for b in body["backends"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&b["name"]),
            text(&b["plugin"]),
            joined(&b["tags"], ","),
            joined(&b["actions"], ","),
            text(&b["breaker"]),
        ]);
    }
    let mut out = Out::new();
    table.write(&mut out);
    out.flush();
    Exit::Done
}

/// Runs `sever plugins --remote`: one row per action of each plugin, with the target
/// field sets it takes (alternatives split by `|`).
pub(crate) fn plugins(connection: &Connection, json: bool) -> Exit {
    let remote = match Remote::new(connection) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let body = match listing(&remote, "/v1/plugins", json) {
        Ok(body) if !json => body,
        Ok(_) => return Exit::Done,
        Err(exit) => return exit,
    };
    let header = [
        "PLUGIN",
        "VERSION",
        "ABI",
        "TRANSPORT",
        "ACTION",
        "TARGET FIELDS",
        "OPTIONAL",
    ];
    let mut table = Table::new(&header, 3);
    for p in body["plugins"].as_array().into_iter().flatten() {
        let actions: Vec<&Value> = p["actions"].as_array().into_iter().flatten().collect();
        for (i, a) in actions.iter().enumerate() {
            let sets: Vec<String> = a["target_sets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|set| joined(set, " + "))
                .collect();
            let plugin_cells = if i == 0 {
                vec![
                    text(&p["name"]),
                    text(&p["version"]),
                    text(&p["abi"]),
                    text(&p["transport"]),
                ]
            } else {
                vec![String::new(); 4]
            };
            let mut row = plugin_cells;
            row.extend([
                text(&a["action"]),
                sets.join(" | "),
                joined(&a["optional_fields"], ", "),
            ]);
            table.row(row);
        }
    }
    let mut out = Out::new();
    table.write(&mut out);
    out.flush();
    Exit::Done
}

/// Runs `sever health`: 0 when `/healthz` (or `/readyz`) answers 200, else 1. Needs no
/// token; meant as a container's health check (the image has no curl).
pub(crate) fn health(args: &HealthArgs) -> Exit {
    let remote = match Remote::new(&args.connection) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let path = if args.ready { "/readyz" } else { "/healthz" };
    match remote.get(path, false) {
        Ok(reply) if reply.status == 200 => {
            let mut out = Out::new();
            out.line(format!("{}{path}: 200 OK", remote.base()));
            out.flush();
            Exit::Done
        }
        Ok(reply) => {
            eprintln!("sever: {}{path} answered {}", remote.base(), reply.status);
            Exit::Failed
        }
        Err(e) => fail(&e),
    }
}

/// A JSON scalar as text (strings without quotes, null as nothing).
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON list of scalars joined by `sep`.
fn joined(value: &Value, sep: &str) -> String {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect::<Vec<_>>()
        .join(sep)
}
