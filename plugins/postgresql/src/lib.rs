//! # `postgresql` — PostgreSQL `pg_terminate_backend` (SQL, not HTTP)
//!
//! Ends PostgreSQL sessions with one parameterised query per action. The host owns one
//! authenticated connection per backend (role, password, database and TLS mode from
//! [`Adapter::connection`]) and runs the statement with its parameters: the target is
//! always a parameter (`$1`), never part of the SQL text.
//!
//! **Exchanges** (`$2` is `terminate_timeout_ms`, an `int8`):
//!
//! | canonical | query |
//! |---|---|
//! | `terminate` + `connection_id` (a backend pid, decimal, `int4`) | `SELECT s.pid, pg_terminate_backend(s.pid, $2::bigint) FROM pg_stat_activity s WHERE s.pid = $1::integer` |
//! | `terminate` + `user_id` (a role name) | `SELECT s.pid, pg_terminate_backend(s.pid, $2::bigint) FROM pg_stat_activity s WHERE s.usename = $1 AND s.pid <> pg_backend_pid()` |
//! | `disconnect` + `client_id` (an `application_name`) | the same with `s.application_name = $1` |
//!
//! Selecting from `pg_stat_activity` first makes "no such backend" zero rows instead of a
//! warning, so the answer does not depend on notices; `pg_backend_pid()` keeps Sever's own
//! session out of the cuts by role and by name. A `connection_id` that is not a decimal
//! number from 1 to 2147483647 is `400 invalid_request` before anything is sent. Every
//! query is idempotent (a repeat finds zero rows) and retried as it was.
//!
//! **Settings.** `user`, `password` (secret), `dbname` (default `postgres`), `sslmode`
//! (`disable`, `prefer`, `require`, `verify-full`; default `prefer`),
//! `terminate_timeout_ms` (default `2000`; `0` = send the signal only; keep it below the
//! backend's `timeout_ms`). The backend `url` is `postgres://host:5432`. The role:
//! `CREATE ROLE sever LOGIN PASSWORD '…'; GRANT pg_signal_backend TO sever;` — it can end
//! any non-superuser backend, never a superuser's.
//!
//! **Answers.** Each row is `(pid, terminated)`. `vendor.code` is the SQLSTATE (of the
//! error, or of the first notice), `vendor.message` its text; `vendor.pids` the backends
//! the query found.
//!
//! | server | canonical |
//! |---|---|
//! | every row `true`, `terminate_timeout_ms` > 0 | `done`, `vendor.closed` = rows |
//! | every row `true`, `terminate_timeout_ms` 0 | `accepted` (only the signal was sent), `vendor.signalled` = rows |
//! | some row `false` (with the WARNING `backend with PID … did not terminate within … milliseconds`) | `accepted`, `vendor.closed` / `vendor.signalled` and `vendor.not_closed` / `vendor.not_signalled`, the warning in `vendor.message` |
//! | zero rows | 404 `target_not_found` (after a retry the detail says the first attempt may have made the cut) |
//! | SQLSTATE `42501`; `28P01`, `28000` (authentication, also when the connection was refused) | 502 `upstream_unauthorized` |
//! | SQLSTATE `22xxx`, other `42xxx` (a Sever bug: `22003` "timeout" must not be negative) | 502 `upstream_rejected` |
//! | any other SQLSTATE (`53300` too_many_connections, `57P03` cannot_connect_now…) | 502 `upstream_error`; retryable for classes `08`, `53` and `57` |
//! | rows of another shape (not two columns, a pid that is not a number, a flag that is not a boolean) | 502 `upstream_error` |
//!
//! **Confirmed** (PostgreSQL 15 as Debian ships it, `postgresql-15 15.18-0+deb12u1`, run
//! and read in the server binary): `pg_terminate_backend(pid integer, timeout bigint
//! DEFAULT 0) → boolean`; the warnings `PID %d is not a PostgreSQL backend process` and
//! `backend with PID %d did not terminate within %lld milliseconds` (both answer false);
//! `ERROR 42501` for a superuser's backend or without `pg_signal_backend`; `22003` for a
//! negative timeout; that a role with only `pg_signal_backend` sees `pid`, `usename` and
//! `application_name` of other sessions; that with timeout 0 the function answers true once
//! the signal is sent (commit aaf043257205, in 14).
//!
//! **Assumed:** the mapping of SQLSTATEs outside the table (and which are worth a retry);
//! message texts differ between major versions, so only SQLSTATEs are matched. A
//! terminated client may reconnect (blocking would be `ALTER ROLE … NOLOGIN`, not in this
//! adapter).

mod answer;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;

/// `terminate` + `connection_id`: `$1` the pid, `$2` the timeout.
pub const BY_PID: &str = "SELECT s.pid, pg_terminate_backend(s.pid, $2::bigint) \
     FROM pg_stat_activity s WHERE s.pid = $1::integer";
/// `terminate` + `user_id`: `$1` the role name, `$2` the timeout.
pub const BY_ROLE: &str = "SELECT s.pid, pg_terminate_backend(s.pid, $2::bigint) \
     FROM pg_stat_activity s WHERE s.usename = $1 AND s.pid <> pg_backend_pid()";
/// `disconnect` + `client_id`: `$1` the application name, `$2` the timeout.
pub const BY_APPLICATION: &str = "SELECT s.pid, pg_terminate_backend(s.pid, $2::bigint) \
     FROM pg_stat_activity s WHERE s.application_name = $1 AND s.pid <> pg_backend_pid()";

/// The largest backend pid (`$1::integer`).
const MAX_PID: u64 = i32::MAX.unsigned_abs() as u64;

/// The `terminate_timeout_ms` of a backend that sets none.
const DEFAULT_TERMINATE_TIMEOUT_MS: u32 = 2000;

/// Sever's own `application_name`, so that operators can tell its session apart.
const APPLICATION_NAME: &str = "sever";

/// The `sslmode` values and the connection's `tls` each means.
const SSLMODES: [(&str, &str); 4] = [
    ("disable", "disable"),
    ("prefer", "prefer"),
    ("require", "require"),
    ("verify-full", "verify_full"),
];

/// A PostgreSQL backend's settings.
#[derive(Debug, Settings)]
pub struct PostgresqlSettings {
    /// role to log in as (needs pg_signal_backend)
    user: String,
    /// the role's password
    #[setting(secret)]
    password: String,
    /// database to connect to (default postgres)
    dbname: Option<String>,
    /// TLS: disable, prefer, require or verify-full (default prefer)
    #[setting(check = sslmode)]
    sslmode: Option<String>,
    /// how long pg_terminate_backend waits for each backend to end, in ms (default 2000; 0 sends the signal only)
    terminate_timeout_ms: Option<u32>,
}

fn sslmode(value: &str) -> Result<(), String> {
    if SSLMODES.iter().any(|(mode, _)| *mode == value) {
        Ok(())
    } else {
        Err("must be disable, prefer, require or verify-full".into())
    }
}

/// One PostgreSQL cluster (`pg_stat_activity` covers every database in it).
pub struct Postgresql {
    user: String,
    password: String,
    dbname: String,
    /// The connection's `tls` (`verify_full` for `sslmode: verify-full`).
    tls: &'static str,
    terminate_timeout_ms: u32,
}

// By hand, so that printing an instance never shows the password.
impl std::fmt::Debug for Postgresql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgresql")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("dbname", &self.dbname)
            .field("tls", &self.tls)
            .field("terminate_timeout_ms", &self.terminate_timeout_ms)
            .finish()
    }
}

/// A flow in progress: one query, and what its answer needs.
#[derive(Debug)]
pub struct Flow {
    /// What the request is about, for messages ("backend 4242", "role 'app'").
    subject: String,
    /// The query in flight, planned again on a retry.
    query: Option<SqlQuery>,
    /// True once the host retried the query (its first answer may have been lost).
    retried: bool,
    /// The timeout the query asked `pg_terminate_backend` for.
    timeout_ms: u32,
}

impl Postgresql {
    fn query(&self, sql: &str, target: SqlValue, purpose: &str) -> SqlQuery {
        SqlQuery {
            sql: sql.to_owned(),
            params: vec![target, SqlValue::Int8(i64::from(self.terminate_timeout_ms))],
            exchange: Exchange {
                idempotent: true,
                purpose: Some(purpose.to_owned()),
                ..Exchange::default()
            },
        }
    }
}

impl Adapter for Postgresql {
    const NAME: &'static str = "postgresql";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = PostgresqlSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "PostgreSQL pg_terminate_backend (SQL): by backend pid, role or application_name",
            vec![
                ActionSpec::new(
                    Action::Terminate,
                    [[TargetField::ConnectionId], [TargetField::UserId]],
                    "pg_terminate_backend of the backend whose pid is connection_id, or of \
                     every session of role user_id; the client may reconnect",
                ),
                ActionSpec::new(
                    Action::Disconnect,
                    [[TargetField::ClientId]],
                    "pg_terminate_backend of every session whose application_name is \
                     client_id; the client may reconnect",
                ),
            ],
        )
        .transport(Transport::Postgres, &[])
    }

    fn new(backend: Backend<PostgresqlSettings>) -> Result<Self, Vec<SettingError>> {
        let s = backend.settings;
        let mode = s.sslmode.as_deref().unwrap_or("prefer");
        let tls = SSLMODES
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or("prefer", |(_, tls)| tls);
        Ok(Postgresql {
            user: s.user,
            password: s.password,
            dbname: s.dbname.unwrap_or_else(|| "postgres".to_owned()),
            tls,
            terminate_timeout_ms: s
                .terminate_timeout_ms
                .unwrap_or(DEFAULT_TERMINATE_TIMEOUT_MS),
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let target = &request.target;
        let (subject, query) = match (request.action, target.get(TargetField::UserId)) {
            (Action::Terminate, Some(role)) => (
                format!("role '{role}'"),
                Ok(self.query(
                    BY_ROLE,
                    SqlValue::Text(role.to_owned()),
                    "terminate sessions",
                )),
            ),
            (Action::Terminate, None) => {
                let id = target.field(TargetField::ConnectionId);
                let pid = encode::decimal_id("target.connection_id", id, MAX_PID).and_then(|pid| {
                    // Within `MAX_PID`, so always an `int4`.
                    i32::try_from(pid)
                        .map_err(|_| Problem::new(ProblemKind::InvalidTarget, "pid out of range"))
                });
                (
                    format!("backend {id}"),
                    pid.map(|pid| self.query(BY_PID, SqlValue::Int4(pid), "terminate backend")),
                )
            }
            (_, _) => {
                let name = target.field(TargetField::ClientId);
                (
                    format!("application_name '{name}'"),
                    Ok(self.query(
                        BY_APPLICATION,
                        SqlValue::Text(name.to_owned()),
                        "terminate sessions",
                    )),
                )
            }
        };
        let mut flow = Flow {
            subject,
            query: None,
            retried: false,
            timeout_ms: self.terminate_timeout_ms,
        };
        match query {
            Ok(query) => {
                flow.query = Some(query.clone());
                (flow, Step::Sql(query))
            }
            Err(problem) => (flow, Step::Fail(problem)),
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Sql(result) => answer::read(flow, result),
            // The query is idempotent: planning it again gives the same one.
            Input::Retry { .. } => match flow.query.clone() {
                Some(query) => {
                    flow.retried = true;
                    Step::Sql(query)
                }
                // The host retries only a step it was given: a host bug, answered as one.
                None => unreachable!("postgresql: asked to retry before any query"),
            },
            // The host answers only the kinds of exchange this adapter plans (SQL).
            _ => unreachable!("postgresql: resumed with the answer to an exchange it never plans"),
        }
    }

    fn connection(&self) -> Option<ConnectionSpec> {
        Some(ConnectionSpec {
            username: Some(self.user.clone()),
            password: Some(self.password.clone()),
            client_id: Some(APPLICATION_NAME.to_owned()),
            database: Some(self.dbname.clone()),
            tls: Some(self.tls.to_owned()),
            ..ConnectionSpec::default()
        })
    }
}

export_plugin!(Postgresql);
