//! SIGTERM and SIGINT for the modes that run real servers: handled (not fatal), so each
//! mode stops its server on the way out instead of leaving it running.

use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::fail;

/// The handlers, installed before a server starts.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers on `rt` (exits when it cannot).
    pub(crate) fn install(rt: &Runtime) -> Signals {
        let (term, int) = rt.block_on(async {
            (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            )
        });
        match (term, int) {
            (Ok(term), Ok(int)) => Signals { term, int },
            _ => fail("cannot handle SIGTERM / SIGINT"),
        }
    }

    /// Waits for the first of them; its name.
    pub(crate) fn wait(&mut self, rt: &Runtime) -> &'static str {
        rt.block_on(async {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        })
    }
}

/// A runtime for a mode's clients.
pub(crate) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| fail(&format!("tokio runtime: {err}")))
}
