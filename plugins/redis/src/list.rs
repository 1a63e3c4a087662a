//! Reading `CLIENT LIST`: one line per connection, `key=value` pairs separated by spaces
//! (`id=7 addr=127.0.0.1:54128 laddr=… fd=7 name=sensor-17 … user=app …`).

use sever_plugin_sdk::prelude::*;

/// The ids of the connections whose `name` is `name`, in the server's order, each once.
/// A reply that is not text, or a matching line without a numeric `id`, is unreadable:
/// killing by a guessed id could cut another connection.
pub(crate) fn named(reply: &RedisReply, name: &str) -> Result<Vec<u64>, Problem> {
    let text = match reply {
        RedisReply::Bulk(text) | RedisReply::Simple(text) => text,
        other => return Err(unreadable(other)),
    };
    let mut ids = Vec::new();
    for line in text.lines() {
        let field = |key: &str| {
            line.split(' ')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v)
        };
        if field("name") != Some(name) {
            continue;
        }
        let id = field("id")
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|id| id.parse::<u64>().ok())
            .filter(|id| *id > 0);
        match id {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => {
                let detail = format!(
                    "redis listed a connection named '{name}' without a readable id: {}",
                    vendor::excerpt(line.as_bytes())
                );
                return Err(Problem::new(ProblemKind::Unreadable, detail));
            }
        }
    }
    Ok(ids)
}

fn unreadable(reply: &RedisReply) -> Problem {
    let kind = match reply {
        RedisReply::Integer(_) => "an integer",
        RedisReply::Nil => "nil",
        RedisReply::Array(_) => "an array",
        _ => "another reply",
    };
    Problem::new(
        ProblemKind::Unreadable,
        format!("redis answered {kind} to CLIENT LIST, not its text"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Lines as redis-server 7.0.15 writes them (trailing space, `\n` after each).
    const LIST: &str = "id=7 addr=127.0.0.1:54128 laddr=127.0.0.1:6379 fd=8 name=sensor-17 age=3 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=client|setname user=app redir=-1 resp=2\n\
id=9 addr=127.0.0.1:54130 laddr=127.0.0.1:6379 fd=9 name= age=1 idle=1 flags=N db=0 cmd=auth user=sever redir=-1 resp=2\n\
id=12 addr=127.0.0.1:54140 laddr=127.0.0.1:6379 fd=10 name=sensor-17 age=1 idle=1 flags=N db=0 cmd=ping user=app lib-name=sensor-17 redir=-1 resp=2\n\
id=13 addr=127.0.0.1:54141 laddr=127.0.0.1:6379 fd=11 name=sensor-170 age=1 idle=1 flags=N db=0 cmd=ping user=app redir=-1 resp=2\n";

    #[test]
    fn only_lines_whose_name_is_exactly_the_target_are_picked() {
        let ids = named(&RedisReply::Bulk(LIST.into()), "sensor-17").unwrap();
        assert_eq!(ids, [7, 12]);
        assert_eq!(
            named(&RedisReply::Bulk(LIST.into()), "sensor-1").unwrap(),
            Vec::<u64>::new()
        );
        // `lib-name=` is another key, not the connection name.
        let line = "id=5 name=a lib-name=b\n";
        assert!(named(&RedisReply::Bulk(line.into()), "b")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn crlf_lines_and_a_status_reply_are_read_too() {
        let text = "id=3 name=x\r\nid=4 name=x\r\n";
        assert_eq!(
            named(&RedisReply::Simple(text.into()), "x").unwrap(),
            [3, 4]
        );
    }

    #[test]
    fn a_match_without_a_numeric_id_is_unreadable() {
        for line in [
            "name=x\n",
            "id=abc name=x\n",
            "id=0 name=x\n",
            "id=-3 name=x\n",
        ] {
            let problem = named(&RedisReply::Bulk(line.into()), "x").unwrap_err();
            assert_eq!(problem.kind, ProblemKind::Unreadable, "{line}");
        }
        // Lines that do not match are not read further.
        assert!(named(&RedisReply::Bulk("id=abc name=y\n".into()), "x")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_reply_that_is_not_text_is_unreadable() {
        for reply in [
            RedisReply::Integer(1),
            RedisReply::Nil,
            RedisReply::Array(vec![]),
        ] {
            assert_eq!(
                named(&reply, "x").unwrap_err().kind,
                ProblemKind::Unreadable
            );
        }
    }
}
