//! The simulated corinthian's unbind checks, in its order (see the module documentation),
//! and its identifier rules (`looks_like_a_valid_owner`, `looks_like_a_valid_entity`,
//! `is_owner`, `is_string_safe`).

use axum::http::{request::Parts, HeaderMap, Method};

use super::{failed, Answer, Iudx, IudxBinding, MESSAGE_TYPES};

impl Iudx {
    /// Applies every check and, when all pass, removes the binding (if it exists).
    pub(super) fn unbind(&self, parts: &Parts) -> Result<(), Answer> {
        let path = parts.uri.path();
        if path != "/entity/unbind" && path != "/owner/unbind" {
            return Err(Answer::NoRoute);
        }
        if parts.method != Method::POST {
            return Err(Answer::Method);
        }
        let get = |name: &str| header(&parts.headers, name);
        let (Some(id), Some(apikey), Some(to), Some(topic), Some(message_type)) = (
            get("id"),
            get("apikey"),
            get("to"),
            get("topic"),
            get("message-type"),
        ) else {
            return Err(Answer::bad_request("inputs missing in headers"));
        };

        let from = if looks_like_a_valid_owner(&id) {
            let from =
                get("from").ok_or_else(|| Answer::bad_request("'from' value missing in header"))?;
            if !looks_like_a_valid_entity(&from) {
                return Err(Answer::bad_request("'from' is not a valid entity"));
            }
            if !is_owner(&id, &from) {
                return Err(Answer::forbidden("you are not the owner of 'from' entity"));
            }
            from
        } else {
            // An entity unbinds its own queue.
            id.clone()
        };
        if !looks_like_a_valid_entity(&to) {
            return Err(Answer::bad_request("'to' is not a valid entity"));
        }
        if !MESSAGE_TYPES.contains(&message_type.as_str()) {
            return Err(Answer::bad_request("message-type is invalid"));
        }
        if message_type == "private" && !is_owner(&id, &to) {
            return Err(Answer::forbidden("you are not the owner of 'to'"));
        }
        for (value, message) in [
            (&from, "invalid from"),
            (&to, "invalid to"),
            (&topic, "invalid topic"),
        ] {
            if !is_string_safe(value) {
                return Err(Answer::bad_request(message));
            }
        }

        let login = self.users.get(&id).filter(|user| {
            id.starts_with(|c: char| c.is_ascii_lowercase())
                && is_string_safe(&id)
                && user.apikey == apikey
        });
        let Some(user) = login else {
            return Err(Answer::forbidden("invalid id or apikey"));
        };
        if !user.autonomous {
            return Err(Answer::forbidden("unauthorized"));
        }

        let exchange = format!("{to}.{message_type}");
        let mut queue = from.clone();
        if get("is-priority").as_deref() == Some("true") {
            queue.push_str(".priority");
        }
        if message_type != "public" && !is_owner(&id, &to) {
            let permission = IudxBinding::new(&exchange, &from, &topic);
            if !self.acl.contains(&permission) {
                return Err(Answer::forbidden("unauthorized"));
            }
        }
        if !self.exchanges.contains(&exchange) || !self.queues.contains(&queue) {
            // The broker closes the channel with NOT_FOUND; corinthian answers 500.
            return Err(failed(&exchange, &queue, &topic).into());
        }
        self.bindings
            .lock()
            .remove(&IudxBinding::new(&exchange, &queue, &topic));
        Ok(())
    }
}

/// A request header's value (lossily decoded), if present.
pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `[a-z]` then 2–31 more of `[A-Za-z0-9-]`.
fn looks_like_a_valid_owner(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && (3..=32).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `owner/name`: 7–65 of `[A-Za-z0-9-/]` with exactly one `/`.
fn looks_like_a_valid_entity(id: &str) -> bool {
    (7..=65).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
        && id.matches('/').count() == 1
}

/// `entity` is `{id}/…` or `{id}.…`.
fn is_owner(id: &str, entity: &str) -> bool {
    let id = id.get(..32).unwrap_or(id);
    entity
        .strip_prefix(id)
        .is_some_and(|rest| rest.starts_with(['/', '.']))
}

/// At most 256 of `[A-Za-z0-9-/.*#]`.
fn is_string_safe(value: &str) -> bool {
    value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-/.*#".contains(c))
}
