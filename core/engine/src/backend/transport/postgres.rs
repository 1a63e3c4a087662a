//! A backend's PostgreSQL connection (crate `tokio-postgres`): one session, opened on the
//! first query and driven by a task that keeps the notices the server sends with a result
//! (a `WARNING` of `pg_terminate_backend`), so that each query's answer carries them.
//! Queries on it run one at a time, which keeps each notice with its own query.

use super::{address, bounded, LinkError, Redial};
use crate::backend::exchange::TransportError;
use bytes::BytesMut;
use sever_plugin_abi::{ConnectionSpec, SqlMessage, SqlQuery, SqlResult, SqlValue};
use std::error::Error;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::DbError;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Row};

pub(crate) struct PostgresLink {
    config: Config,
    open: Mutex<Option<Session>>,
    redial: Redial,
}

/// An open session and the notices its driver has collected.
struct Session {
    client: Client,
    notices: mpsc::UnboundedReceiver<DbError>,
}

impl PostgresLink {
    pub(super) fn new(url: &str, spec: ConnectionSpec) -> Result<Self, LinkError> {
        let (host, port) = address(url, 5432)?;
        let mut config = Config::new();
        config.host(&host).port(port);
        if let Some(user) = &spec.username {
            config.user(user);
        }
        if let Some(password) = &spec.password {
            config.password(password);
        }
        config.dbname(spec.database.as_deref().unwrap_or("postgres"));
        if let Some(name) = &spec.client_id {
            config.application_name(name);
        }
        config.ssl_mode(match spec.tls.as_deref() {
            None | Some("prefer") => SslMode::Prefer,
            Some("disable") => SslMode::Disable,
            Some(other) => {
                return Err(LinkError(format!(
                    "TLS to PostgreSQL ({other}) is not performed by this release of sever: \
                     use sslmode prefer or disable"
                )))
            }
        });
        Ok(PostgresLink {
            config,
            open: Mutex::new(None),
            redial: Redial::default(),
        })
    }

    /// Runs `query`; the session is opened first if needed.
    pub(super) async fn query(
        &self,
        query: &SqlQuery,
        limit: Duration,
    ) -> Result<SqlResult, TransportError> {
        let mut open = self.open.lock().await;
        if open.as_ref().is_some_and(|s| s.client.is_closed()) {
            *open = None;
        }
        if open.is_none() {
            match self.connect(limit).await? {
                Ok(session) => *open = Some(session),
                Err(refused) => return Ok(refused),
            }
        }
        let Some(session) = open.as_mut() else {
            return Err(TransportError::Connect("no session".into()));
        };
        while session.notices.try_recv().is_ok() {}
        let params: Vec<Param<'_>> = query.params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let outcome = session.client.query(query.sql.as_str(), &refs).await;
        let mut notices = Vec::new();
        while let Ok(notice) = session.notices.try_recv() {
            notices.push(message(&notice));
        }
        match outcome {
            Ok(rows) => Ok(SqlResult {
                error: None,
                rows: rows.iter().map(cells).collect(),
                notices,
            }),
            Err(e) => match e.as_db_error() {
                Some(db) => Ok(SqlResult {
                    error: Some(message(db)),
                    rows: Vec::new(),
                    notices,
                }),
                None => {
                    *open = None;
                    Err(TransportError::Protocol(e.to_string()))
                }
            },
        }
    }

    /// Opens a session, or hands back the server's refusal (a wrong password: 28P01).
    async fn connect(&self, limit: Duration) -> Result<Result<Session, SqlResult>, TransportError> {
        self.redial.wait(limit).await?;
        let opened = bounded(limit, async {
            match self.config.connect(NoTls).await {
                Ok((client, mut connection)) => {
                    let (tx, notices) = mpsc::unbounded_channel();
                    tokio::spawn(async move {
                        while let Some(message) =
                            std::future::poll_fn(|cx| connection.poll_message(cx)).await
                        {
                            match message {
                                Ok(AsyncMessage::Notice(notice)) => {
                                    let _ = tx.send(notice);
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                        }
                    });
                    Ok(Ok(Session { client, notices }))
                }
                Err(e) => match e.as_db_error() {
                    Some(db) => Ok(Err(SqlResult {
                        error: Some(message(db)),
                        ..SqlResult::default()
                    })),
                    None => Err(TransportError::Connect(e.to_string())),
                },
            }
        })
        .await;
        self.redial.note(&opened);
        opened
    }
}

fn message(db: &DbError) -> SqlMessage {
    SqlMessage {
        severity: db.severity().to_owned(),
        code: db.code().code().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
    }
}

/// A row's cells, typed where the ABI has the type; another type as a placeholder naming
/// it (the adapters select only booleans, integers and text).
fn cells(row: &Row) -> Vec<SqlValue> {
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            let value = match *ty {
                Type::BOOL => row
                    .try_get::<_, Option<bool>>(i)
                    .map(|v| v.map(SqlValue::Bool)),
                Type::INT2 => row
                    .try_get::<_, Option<i16>>(i)
                    .map(|v| v.map(|n| SqlValue::Int4(n.into()))),
                Type::INT4 => row
                    .try_get::<_, Option<i32>>(i)
                    .map(|v| v.map(SqlValue::Int4)),
                Type::INT8 => row
                    .try_get::<_, Option<i64>>(i)
                    .map(|v| v.map(SqlValue::Int8)),
                Type::OID => row
                    .try_get::<_, Option<u32>>(i)
                    .map(|v| v.map(|n| SqlValue::Int8(n.into()))),
                _ => row
                    .try_get::<_, Option<String>>(i)
                    .map(|v| v.map(SqlValue::Text)),
            };
            match value {
                Ok(Some(v)) => v,
                Ok(None) => SqlValue::Null,
                Err(_) => SqlValue::Text(format!("<{}>", ty.name())),
            }
        })
        .collect()
}

/// A parameter as the statement's type needs it (an int4 widened for an int8 slot).
#[derive(Debug)]
struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Bool(b) => b.to_sql(ty, out),
            SqlValue::Int4(n) if *ty == Type::INT8 => i64::from(*n).to_sql(ty, out),
            SqlValue::Int4(n) => n.to_sql(ty, out),
            SqlValue::Int8(n) => n.to_sql(ty, out),
            SqlValue::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tls_modes_this_release_cannot_perform_are_a_config_error() {
        let spec = |tls: &str| ConnectionSpec {
            tls: Some(tls.into()),
            ..ConnectionSpec::default()
        };
        assert!(PostgresLink::new("postgres://db.test", spec("prefer")).is_ok());
        assert!(PostgresLink::new("postgres://db.test", spec("disable")).is_ok());
        assert!(PostgresLink::new("postgres://db.test", spec("require")).is_err());
    }

    #[test]
    fn an_int4_parameter_fills_an_int8_slot() {
        let mut out = BytesMut::new();
        Param(&SqlValue::Int4(7))
            .to_sql(&Type::INT8, &mut out)
            .unwrap();
        assert_eq!(out.len(), 8);
    }
}
