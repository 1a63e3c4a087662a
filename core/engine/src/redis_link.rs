//! The one lazily opened Redis connection a shared store (idempotency keys, pending
//! approvals) runs on: made on first use, reconnecting on its own, every connect and
//! answer bounded by [`REDIS_TIMEOUT`]. `rediss://` is refused (no TLS in this build).

use crate::idempotency::REDIS_TIMEOUT;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::time::Duration;
use tokio::sync::OnceCell;

/// A Redis client and its connection, once made.
pub(crate) struct RedisLink {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
}

impl fmt::Debug for RedisLink {
    // The client holds the URL, which may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLink")
            .field("connected", &self.connection.initialized())
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// Checks `url` without connecting; the error says why it cannot be used.
    pub(crate) fn new(url: &str) -> Result<Self, &'static str> {
        if url.starts_with("rediss://") {
            return Err("TLS to Redis (rediss://) is not supported by this build");
        }
        let client = redis::Client::open(url).map_err(|_| "not a usable Redis URL")?;
        Ok(RedisLink {
            client,
            connection: OnceCell::new(),
        })
    }

    /// The shared connection, made on first use; a clone is a cheap handle.
    pub(crate) async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let manager = self
            .connection
            .get_or_try_init(|| async {
                // Few quick reconnection attempts: a request waits for them, and the
                // next request tries again anyway.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        Ok(manager.clone())
    }
}
