//! The gate every simulator has: while a test holds it, answers wait (calls are recorded
//! as they arrive), so a test can act while calls are known to be under way and then let
//! them finish — instead of a delay long enough, it hopes, for what it does meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The state a simulator shares with the [`Gate`] a test holds.
#[derive(Debug)]
pub(crate) struct GateState {
    /// `true` while answers are held.
    closed: watch::Sender<bool>,
    held: AtomicUsize,
}

impl Default for GateState {
    fn default() -> Self {
        GateState {
            closed: watch::Sender::new(false),
            held: AtomicUsize::new(0),
        }
    }
}

impl GateState {
    /// Waits while the gate is closed.
    pub(crate) async fn pass(&self) {
        let mut closed = self.closed.subscribe();
        if !*closed.borrow_and_update() {
            return;
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let _ = closed.wait_for(|closed| !*closed).await;
        self.held.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers are held while this lives; [`Gate::release`] (or dropping it) lets them go.
#[derive(Debug)]
#[must_use = "answers are held only while the gate lives"]
pub struct Gate {
    state: Arc<GateState>,
}

impl Gate {
    /// Closes `state`'s gate.
    pub(crate) fn close(state: &Arc<GateState>) -> Gate {
        state.closed.send_replace(true);
        Gate {
            state: Arc::clone(state),
        }
    }

    /// How many calls are waiting for their answer now.
    pub fn held(&self) -> usize {
        self.state.held.load(Ordering::SeqCst)
    }

    /// Lets every held answer (and every later one) go.
    pub fn release(self) {}
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.state.closed.send_replace(false);
    }
}
