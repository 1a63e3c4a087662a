//! The backend's current token, shared by every flow on every thread.

use parking_lot::Mutex;

/// A cached token is not used within this long of its expiry (at most; see [`margin_ms`]).
const MAX_MARGIN_MS: u64 = 30_000;

/// A token the endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    /// Seconds, as the endpoint said (or the assumed default).
    pub(crate) expires_in_s: u64,
}

/// How long before expiry a token stops being used: 30 s, or a quarter of its lifetime for
/// short-lived tokens (so a 4 s token is still used for 3 s).
pub(crate) fn margin_ms(lifetime_ms: u64) -> u64 {
    MAX_MARGIN_MS.min(lifetime_ms / 4)
}

#[derive(Debug, Clone)]
struct Cached {
    access_token: String,
    /// `env.unix_ms` from which on the token is no longer handed out.
    stale_at_ms: u64,
}

/// The token slot: one token at a time, replaced by whichever flow stores last.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<Cached>>,
}

// By hand: the token is a credential, never printed.
impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let holds = self.slot.lock().is_some();
        f.debug_struct("TokenCache")
            .field("holds_token", &holds)
            .finish()
    }
}

impl TokenCache {
    /// The cached token, unless it is missing or within the margin of its expiry.
    pub(crate) fn valid(&self, now_ms: u64) -> Option<String> {
        let slot = self.slot.lock();
        slot.as_ref()
            .filter(|cached| now_ms < cached.stale_at_ms)
            .map(|cached| cached.access_token.clone())
    }

    /// Caches a token just received (at `now_ms`).
    pub(crate) fn store(&self, issued: &Issued, now_ms: u64) {
        let lifetime_ms = issued.expires_in_s.saturating_mul(1000);
        let stale_at_ms = now_ms
            .saturating_add(lifetime_ms)
            .saturating_sub(margin_ms(lifetime_ms));
        *self.slot.lock() = Some(Cached {
            access_token: issued.access_token.clone(),
            stale_at_ms,
        });
    }

    /// Drops the cached token if it is still `access_token` (the one the vendor refused);
    /// a newer token some other flow cached meanwhile is kept.
    pub(crate) fn forget(&self, access_token: &str) {
        let mut slot = self.slot.lock();
        if slot
            .as_ref()
            .is_some_and(|cached| cached.access_token == access_token)
        {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(token: &str, expires_in_s: u64) -> Issued {
        Issued {
            access_token: token.into(),
            expires_in_s,
        }
    }

    #[test]
    fn the_margin_is_thirty_seconds_or_a_quarter_of_a_short_lifetime() {
        assert_eq!(margin_ms(300_000), 30_000);
        assert_eq!(margin_ms(4_000), 1_000);
        assert_eq!(margin_ms(0), 0);
    }

    #[test]
    fn a_token_is_handed_out_until_the_margin_before_its_expiry() {
        let cache = TokenCache::default();
        cache.store(&issued("t", 300), 1_000);
        assert_eq!(cache.valid(270_999).as_deref(), Some("t"));
        assert_eq!(cache.valid(271_000), None);
        cache.store(&issued("zero", 0), 1_000);
        assert_eq!(
            cache.valid(1_000),
            None,
            "a token already expired is never used"
        );
        cache.store(&issued("long", u64::MAX), 0);
        assert_eq!(cache.valid(1_000).as_deref(), Some("long"), "no overflow");
    }

    #[test]
    fn forget_keeps_a_token_that_replaced_the_refused_one() {
        let cache = TokenCache::default();
        cache.store(&issued("old", 300), 0);
        cache.store(&issued("new", 300), 0);
        cache.forget("old");
        assert_eq!(cache.valid(1).as_deref(), Some("new"));
        cache.forget("new");
        assert_eq!(cache.valid(1), None);
        assert!(!format!("{cache:?}").contains("new"));
    }
}
