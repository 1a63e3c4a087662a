//! `vendor-sim redis`: a REAL redis-server ([`sever_tests::redis`]) on a free loopback
//! port, with two named client connections open (`CLIENT SETNAME`): the one the demo cuts
//! and a bystander. Prints one ready line; reports on stdout when the server closes the
//! victim's connection (and that the bystander still answers); stops the server on
//! SIGTERM or SIGINT.

use std::time::{Duration, Instant};

use sever_tests::redis::RedisServer;

use crate::signals::{runtime, Signals};

/// How often the watcher pings the victim.
const PING_EVERY: Duration = Duration::from_millis(100);

/// A connection named `name`, and its client id.
fn named(server: &RedisServer, name: &str) -> (redis::Connection, i64) {
    let mut connection = server.connection();
    let set: redis::RedisResult<String> = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query(&mut connection);
    if let Err(err) = set {
        crate::fail(&format!("CLIENT SETNAME {name}: {err}"));
    }
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut connection)
        .unwrap_or_else(|err| crate::fail(&format!("CLIENT ID: {err}")));
    (connection, id)
}

/// Runs `vendor-sim redis` until SIGTERM or SIGINT.
pub(crate) fn redis(password: &str, victim_name: &str, bystander_name: &str) {
    let began = Instant::now();
    let rt = runtime();
    let mut signals = Signals::install(&rt);
    let server = RedisServer::start_with_password(password);
    let version: String = {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query(&mut server.connection())
            .unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("?")
            .trim()
            .to_owned()
    };
    let (mut victim, victim_id) = named(&server, victim_name);
    let (mut bystander, bystander_id) = named(&server, bystander_name);
    println!(
        "redis {version} ready in {:.1}s: redis://127.0.0.1:{} (requirepass); clients \
         connected: {victim_name} (id {victim_id}), {bystander_name} (id {bystander_id})",
        began.elapsed().as_secs_f64(),
        server.port,
    );
    let (victim_name, bystander_name) = (victim_name.to_owned(), bystander_name.to_owned());
    // Watches until the victim is cut or the process is told to stop (then it is killed
    // with the process).
    std::thread::spawn(move || loop {
        std::thread::sleep(PING_EVERY);
        if let Err(err) = redis::cmd("PING").query::<String>(&mut victim) {
            let other = redis::cmd("PING")
                .query::<String>(&mut bystander)
                .unwrap_or_else(|e| format!("no answer ({e})"));
            println!(
                "redis client {victim_name} (id {victim_id}): connection closed by the \
                 server ({err}); {bystander_name} still connected: PING -> {other}"
            );
            return;
        }
    });
    let signal = signals.wait(&rt);
    eprintln!("vendor-sim redis: {signal}: stopping redis-server");
    drop(server);
    eprintln!("vendor-sim redis: redis-server stopped");
}
