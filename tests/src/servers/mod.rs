//! Real servers the tests start themselves (127.0.0.1, free ports, temp dirs, stopped when
//! dropped) for the adapters beyond HTTP: PostgreSQL ([`postgres`]); Redis is
//! [`crate::redis`]. Also [`Silent`], a server that accepts connections and never answers.

pub mod mosquitto;
pub mod nats;
pub mod postgres;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

/// A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte: the
/// server that never answers. Its sockets are held open until it is dropped.
#[derive(Debug)]
pub struct Silent {
    pub port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a silent listener");
        let port = listener.local_addr().expect("its address").port();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let keep = Arc::clone(&held);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().push(stream);
            }
        });
        Silent { port, held }
    }

    /// How many connections it has accepted so far.
    pub fn accepted(&self) -> usize {
        self.held.lock().len()
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        for stream in self.held.lock().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A port on 127.0.0.1 where nothing listens (a server that is down).
pub fn closed_port() -> u16 {
    let port = crate::harness::free_port();
    assert!(
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .is_err(),
        "port {port} is taken"
    );
    port
}

/// Stops a server's process: `signal` (its graceful stop), at most 10 s, then SIGKILL.
/// Does nothing for `None` (already stopped), so a server's `stop` is safe twice.
pub fn stop_child(child: Option<Child>, signal: Signal) {
    let Some(mut child) = child else {
        return;
    };
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
    if crate::eventually(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    }) {
        return;
    }
    let _ = child.kill();
    let _ = child.wait();
}
