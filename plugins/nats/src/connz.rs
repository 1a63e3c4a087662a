//! Discovery: the `$SYS.REQ.SERVER.PING.CONNZ` request every server of a cluster answers
//! with its connections (`ConnzOptions` in, `ServerAPIResponse{server, data: Connz}` out),
//! and the `(server id, cid)` pairs to kick that it finds.

use serde::Serialize;
use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// The discovery subject: every server with a system account answers it.
pub(crate) const PING_CONNZ: &str = "$SYS.REQ.SERVER.PING.CONNZ";
/// Connections per page (the server's own default and the contract's).
pub(crate) const PAGE: usize = 1024;
/// Pages asked for at most (a million connections per server): a server that keeps
/// answering full pages is refused rather than listed forever.
pub(crate) const MAX_PAGES: u32 = 1024;

/// The `ConnzOptions` Sever sends. `user` only works with `auth` (the server filters on the
/// authorized user then, before paging).
#[derive(Serialize)]
struct Options<'a> {
    auth: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    limit: usize,
    offset: usize,
}

/// Which connections a discovery looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// Those of this authorized user.
    User(String),
    /// Those whose connection `name` (or MQTT client id) is this.
    Name(String),
}

/// The discovery request for the page at `offset`.
pub(crate) fn request(wanted: &Wanted, offset: usize, gather_ms: u64) -> NatsRequest {
    let user = match wanted {
        Wanted::User(user) => Some(user.as_str()),
        Wanted::Name(_) => None,
    };
    let options = Options {
        auth: true,
        user,
        limit: PAGE,
        offset,
    };
    NatsRequest {
        subject: PING_CONNZ.to_owned(),
        // A struct of strings and numbers always serializes.
        payload: serde_json::to_string(&options).unwrap_or_default(),
        gather_ms,
        exchange: Exchange {
            idempotent: true,
            purpose: Some("discover connections".to_owned()),
            ..Exchange::default()
        },
    }
}

/// What one page of discovery found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    /// `(server id, cid)` of every matching connection, in reply order.
    pub(crate) matches: Vec<(String, u64)>,
    /// Some server answered a full page: there may be more on the next.
    pub(crate) more: bool,
}

/// A server's error in a reply (`ApiError{code, err_code, description}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) code: i64,
    pub(crate) description: String,
}

/// Reads every server's reply to one discovery page. `own` is Sever's own connection
/// name: such connections are never kicked.
pub(crate) fn read(replies: &[String], wanted: &Wanted, own: &str) -> Result<Page, ReadError> {
    let mut page = Page::default();
    for reply in replies {
        let doc: Value = serde_json::from_str(reply)
            .map_err(|_| ReadError::Unreadable(vendor::excerpt(reply.as_bytes())))?;
        if let Some(error) = api_error(&doc) {
            return Err(ReadError::Api(error));
        }
        let data = doc.get("data");
        let server = doc
            .pointer("/server/id")
            .or_else(|| data.and_then(|d| d.get("server_id")))
            .and_then(Value::as_str)
            .ok_or_else(|| ReadError::Unreadable("a reply without the server's id".into()))?;
        let Some(Value::Array(connections)) = data.and_then(|d| d.get("connections")) else {
            return Err(ReadError::Unreadable(format!(
                "server {}'s reply has no data.connections list",
                vendor::clean(server)
            )));
        };
        page.more |= connections.len() >= PAGE;
        for connection in connections {
            let text = |key: &str| connection.get(key).and_then(Value::as_str);
            let name = text("name");
            if name == Some(own) {
                continue;
            }
            let matched = match wanted {
                Wanted::User(user) => text("authorized_user") == Some(user),
                Wanted::Name(id) => name == Some(id) || text("mqtt_client") == Some(id),
            };
            if !matched {
                continue;
            }
            // A server id goes into a subject: one token, nothing wider.
            if encode::subject_token("server id", server).is_err() {
                return Err(ReadError::Unreadable(format!(
                    "a server id that cannot be one subject token: {}",
                    vendor::clean(server)
                )));
            }
            let Some(cid) = connection.get("cid").and_then(Value::as_u64) else {
                return Err(ReadError::Unreadable(format!(
                    "server {}'s matching connection has no numeric cid",
                    vendor::clean(server)
                )));
            };
            let pair = (server.to_owned(), cid);
            if !page.matches.contains(&pair) {
                page.matches.push(pair);
            }
        }
    }
    Ok(page)
}

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// Not the shape a server answers with; an excerpt or what is missing.
    Unreadable(String),
    /// The server answered with an error.
    Api(ApiError),
}

/// The `error` member of a reply, if it has one.
pub(crate) fn api_error(doc: &Value) -> Option<ApiError> {
    let error = doc.get("error")?;
    if error.is_null() {
        return None;
    }
    Some(ApiError {
        code: error
            .get("code")
            .and_then(Value::as_i64)
            .unwrap_or_default(),
        description: error
            .get("description")
            .and_then(Value::as_str)
            .map(vendor::clean)
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// A reply as nats-server 2.15.1 sends it (shortened).
    fn reply(server: &str, connections: Value) -> String {
        json!({
            "server": {"name": server, "host": "127.0.0.1", "id": server, "ver": "2.15.1"},
            "data": {"server_id": server, "now": "2026-12-01T10:00:00Z", "num_connections": 2,
                     "total": 4, "offset": 0, "limit": 1024, "connections": connections}
        })
        .to_string()
    }

    #[test]
    fn the_options_are_the_contracts_json() {
        let r = request(&Wanted::User("dev1".into()), 0, 500);
        assert_eq!(
            r.payload,
            r#"{"auth":true,"user":"dev1","limit":1024,"offset":0}"#
        );
        assert_eq!((r.subject.as_str(), r.gather_ms), (PING_CONNZ, 500));
        let r = request(&Wanted::Name("a\"b".into()), 2048, 500);
        assert_eq!(r.payload, r#"{"auth":true,"limit":1024,"offset":2048}"#);
    }

    #[test]
    fn names_and_mqtt_client_ids_match_but_severs_own_connection_never() {
        let replies = [
            reply(
                "NB4Q",
                json!([
                    {"cid": 8, "name": "sensor-17", "authorized_user": "dev1"},
                    {"cid": 9, "name": "other", "authorized_user": "dev1"},
                    {"cid": 3, "name": "sever-nats-1", "authorized_user": "sys"},
                ]),
            ),
            reply("NC7X", json!([{"cid": 5, "mqtt_client": "sensor-17"}])),
        ];
        let page = read(&replies, &Wanted::Name("sensor-17".into()), "sever-nats-1").unwrap();
        assert_eq!(page.matches, [("NB4Q".into(), 8), ("NC7X".into(), 5)]);
        assert!(!page.more);
        let page = read(
            &replies,
            &Wanted::Name("sever-nats-1".into()),
            "sever-nats-1",
        )
        .unwrap();
        assert!(page.matches.is_empty());
        let page = read(&replies, &Wanted::User("sys".into()), "sever-nats-1").unwrap();
        assert!(page.matches.is_empty());
    }

    #[test]
    fn a_user_filter_the_server_ignored_does_not_widen_the_cut() {
        // An `"account"` key is silently ignored by the server (verified): the adapter
        // checks the user itself too.
        let replies = [reply(
            "NB4Q",
            json!([{"cid": 8, "authorized_user": "dev1"}, {"cid": 9, "authorized_user": "dev2"}]),
        )];
        let page = read(&replies, &Wanted::User("dev1".into()), "sever").unwrap();
        assert_eq!(page.matches, [("NB4Q".into(), 8)]);
    }

    #[test]
    fn a_full_page_asks_for_more() {
        let full: Vec<Value> = (1..=1024)
            .map(|cid| json!({"cid": cid, "name": "x"}))
            .collect();
        let page = read(
            &[reply("NB4Q", Value::Array(full))],
            &Wanted::Name("x".into()),
            "s",
        )
        .unwrap();
        assert!(page.more);
        assert_eq!(page.matches.len(), 1024);
    }

    #[test]
    fn replies_of_another_shape_are_unreadable_and_errors_are_the_servers() {
        let unreadable = |r: &str| {
            matches!(
                read(&[r.to_owned()], &Wanted::Name("x".into()), "s"),
                Err(ReadError::Unreadable(_))
            )
        };
        assert!(unreadable("not json"));
        assert!(unreadable(r#"{"server":{"id":"A"}}"#));
        assert!(unreadable(r#"{"data":{"connections":[]}}"#));
        assert!(unreadable(&reply("A.B", json!([{"cid": 1, "name": "x"}]))));
        assert!(unreadable(&reply("A", json!([{"cid": "1", "name": "x"}]))));
        let error =
            r#"{"server":{"id":"A"},"error":{"code":400,"description":"invalid character 'x'"}}"#;
        assert_eq!(
            read(&[error.to_owned()], &Wanted::Name("x".into()), "s"),
            Err(ReadError::Api(ApiError {
                code: 400,
                description: "invalid character 'x'".into()
            }))
        );
    }
}
