//! Single flight: steps that carry the same sharing key (say, "fetch the token") while one
//! is under way on the backend wait for that one's answer instead of sending their own.

use super::exchange::TransportError;
use super::transport::Answer;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

/// One exchange's result, shared by the leader with every follower.
pub(super) type Shared = Arc<Result<Answer, TransportError>>;

/// In-flight shared steps of one backend, by sharing key.
#[derive(Debug, Default)]
pub(super) struct Flights {
    map: Mutex<HashMap<String, watch::Receiver<Option<Shared>>>>,
}

/// Removes the leader's entry however the leader ends (answer, error or cancellation).
pub(super) struct LeaderGuard<'a> {
    flights: &'a Flights,
    key: &'a str,
    rx: watch::Receiver<Option<Shared>>,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock();
        if map.get(self.key).is_some_and(|r| r.same_channel(&self.rx)) {
            map.remove(self.key);
        }
    }
}

impl Flights {
    /// Sends through `send` unless a call with the same key is already under way, in which
    /// case waits for its answer. The leader gets a guard too: its entry (and the answer in
    /// it) stays visible until the guard is dropped, after the leader's flow has taken the
    /// answer in (say, cached the token), so that a flow starting in between shares the
    /// answer instead of sending the call again.
    pub(super) async fn run<'a, F, Fut>(
        &'a self,
        key: &'a str,
        send: F,
    ) -> (Shared, Option<LeaderGuard<'a>>)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Answer, TransportError>>,
    {
        loop {
            let role = {
                let mut map = self.map.lock();
                match map.get(key) {
                    Some(rx) => Err(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        map.insert(key.to_owned(), rx.clone());
                        Ok((tx, rx))
                    }
                }
            };
            match role {
                Ok((tx, rx)) => {
                    let guard = LeaderGuard {
                        flights: self,
                        key,
                        rx,
                    };
                    let shared: Shared = Arc::new(send().await);
                    // Followers may all have gone; that is fine.
                    let _ = tx.send(Some(Arc::clone(&shared)));
                    return (shared, Some(guard));
                }
                Err(mut rx) => {
                    if let Ok(value) = rx.wait_for(Option::is_some).await {
                        if let Some(shared) = value.as_ref() {
                            return (Arc::clone(shared), None);
                        }
                    }
                    // The leader was cancelled before answering: try again (perhaps lead).
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    fn ok() -> Result<Answer, TransportError> {
        Ok(Answer::Http(crate::backend::UpstreamResponse {
            status: 200,
            headers: vec![],
            body: b"tok".to_vec(),
        }))
    }

    #[tokio::test]
    async fn followers_share_the_leaders_answer_and_send_nothing() {
        let flights = Flights::default();
        let sent = AtomicUsize::new(0);
        let release = Notify::new();
        let send = || async {
            sent.fetch_add(1, Ordering::SeqCst);
            release.notified().await;
            ok()
        };
        let leader = flights.run("token", send);
        let follower = flights.run("token", send);
        let both = async {
            tokio::join!(leader, follower, async {
                // Both have asked by the time this runs (join polls in order).
                release.notify_one();
            })
        };
        let ((a, guard), (b, none), ()) = both.await;
        assert!(guard.is_some() && none.is_none());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_cancelled_leader_lets_the_next_one_lead() {
        let flights = Flights::default();
        {
            let mut stuck = Box::pin(flights.run("token", std::future::pending));
            // Polled once (it leads), then dropped.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(stuck.as_mut().poll(&mut cx).is_pending());
        }
        let (shared, guard) = flights.run("token", || async { ok() }).await;
        assert!(guard.is_some());
        assert_eq!(shared.as_ref().as_ref().unwrap().http_status(), 200);
    }
}
