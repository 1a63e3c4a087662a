//! `vendor-sim postgresql`: a REAL private PostgreSQL cluster
//! ([`sever_tests::servers::postgres`]: initdb into a temp dir, the server on a free
//! loopback port), a login role for Sever (`pg_signal_backend`), and two sessions open
//! with their `application_name`s: the one the demo cuts and a bystander. Prints one ready
//! line; reports on stdout when the server ends the victim's session (and that the
//! bystander still answers); stops the cluster on SIGTERM or SIGINT.

use std::time::{Duration, Instant};

use sever_tests::servers::postgres::{PostgresServer, SUPERUSER_PASSWORD};
use tokio::runtime::Runtime;
use tokio_postgres::Client;

use crate::fail;
use crate::signals::{runtime, Signals};

/// The role the demo's sessions log in as.
const APP_USER: &str = "reporting";
const APP_PASSWORD: &str = "reporting-pw-6f20";

/// A session of `user` named `name`, and its backend pid.
fn session(
    rt: &Runtime,
    server: &PostgresServer,
    user: &str,
    password: &str,
    name: &str,
) -> (Client, i32) {
    server
        .session(rt, user, password, name)
        .unwrap_or_else(|e| fail(&format!("connect {user}/{name}: {e}")))
}

/// Runs `vendor-sim postgresql` until SIGTERM or SIGINT; `user` / `password` is the
/// role made for Sever.
pub(crate) fn postgresql(user: &str, password: &str, victim_name: &str, bystander_name: &str) {
    let began = Instant::now();
    let rt = runtime();
    let mut signals = Signals::install(&rt);
    let server = PostgresServer::start();
    let (admin, _) = session(&rt, &server, "postgres", SUPERUSER_PASSWORD, "vendor-sim");
    // Names and passwords are this program's own constants or the operator's flags,
    // quoted as SQL identifiers and literals.
    let setup = format!(
        "CREATE ROLE {} LOGIN PASSWORD {}; GRANT pg_signal_backend TO {0}; \
         CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}';",
        quote_ident(user),
        quote_literal(password),
    );
    if let Err(err) = rt.block_on(admin.batch_execute(&setup)) {
        fail(&format!("create the roles: {err}"));
    }
    let version: String = rt
        .block_on(admin.query_one("SHOW server_version", &[]))
        .map(|row| row.get(0))
        .unwrap_or_else(|_| "?".to_owned());
    let (victim, victim_pid) = session(&rt, &server, APP_USER, APP_PASSWORD, victim_name);
    let (bystander, bystander_pid) = session(&rt, &server, APP_USER, APP_PASSWORD, bystander_name);
    println!(
        "postgresql {version} private cluster ready in {:.1}s: {} role {user} \
         (pg_signal_backend); sessions of {APP_USER}: {victim_name} (pid {victim_pid}), \
         {bystander_name} (pid {bystander_pid})",
        began.elapsed().as_secs_f64(),
        server.url(),
    );
    let (victim_name, bystander_name) = (victim_name.to_owned(), bystander_name.to_owned());
    rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Err(err) = victim.simple_query("SELECT 1").await {
                let other = match bystander.simple_query("SELECT 1").await {
                    Ok(_) => "SELECT 1 -> 1".to_owned(),
                    Err(e) => format!("no answer ({e})"),
                };
                println!(
                    "postgresql session {victim_name} (pid {victim_pid}) ended by the server \
                     ({}); {bystander_name} still connected: {other}",
                    err.as_db_error().map_or_else(
                        || err.to_string(),
                        |db| format!("{} {}", db.code().code(), db.message())
                    ),
                );
                return;
            }
        }
    });
    let signal = signals.wait(&rt);
    eprintln!("vendor-sim postgresql: {signal}: stopping the private cluster");
    drop(admin);
    drop(server);
    eprintln!("vendor-sim postgresql: private cluster stopped");
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
