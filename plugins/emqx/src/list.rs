//! Reading one page of `GET /api/v5/clients?username=…`:
//! `{"data": [{"clientid", "username", …}], "meta": {"count", "limit", "page", "hasnext"}}`.

use serde_json::Value;
use sever_plugin_sdk::paging::{Page, Position};
use sever_plugin_sdk::prelude::*;

use crate::answer;

/// The clients of `user` on the page at `position`, and where the next page is; or the
/// problem for an answer that is not a page.
pub(crate) fn page(
    user: &str,
    position: &Position,
    response: &VendorResponse<'_>,
) -> Result<Page<String>, Problem> {
    let doing = format!("listing the clients of user '{user}' ({position})");
    if response.status != 200 {
        return Err(answer::failure(response, &doing));
    }
    let unreadable = |why: &str| {
        vendor::unexpected_body(
            response,
            format!(
                "emqx answered 200 to {doing} with {why}: {}",
                vendor::excerpt(response.body)
            ),
        )
    };
    let Some(Value::Object(body)) = response.json() else {
        return Err(unreadable("a body that is not a JSON object"));
    };
    let (Some(Value::Array(rows)), Some(Value::Object(meta))) =
        (body.get("data"), body.get("meta"))
    else {
        return Err(unreadable("no `data` list and `meta` object"));
    };
    let mut items = Vec::new();
    for row in rows {
        let Some(clientid) = row.get("clientid").and_then(Value::as_str) else {
            return Err(unreadable("a row without a `clientid` string"));
        };
        // The server filters on the exact username already; a row of another user (a
        // server that ignored the filter) is never kicked.
        if row.get("username").and_then(Value::as_str) == Some(user) {
            items.push(clientid.to_owned());
        }
    }
    let number = |name: &str| meta.get(name).and_then(Value::as_u64);
    let more = match meta.get("hasnext").and_then(Value::as_bool) {
        Some(more) => more,
        // Older 5.x pages (assumed): more while page × limit < count.
        None => match (number("page"), number("limit"), number("count")) {
            (Some(page), Some(limit), Some(count)) => page.saturating_mul(limit) < count,
            _ => return Err(unreadable("a `meta` without `hasnext` or `count`")),
        },
    };
    let next = match (more, position) {
        (false, _) => None,
        (true, Position::Number(n)) => Some(Position::Number(n.saturating_add(1))),
        (true, other) => Some(other.clone()),
    };
    Ok(Page { items, next })
}
