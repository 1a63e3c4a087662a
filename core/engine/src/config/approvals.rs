//! The `approvals` section: which requests wait for a second caller's approval (four
//! eyes), who may give it, and how long a request may wait.
//!
//! ```yaml
//! approvals:
//!   rules:
//!     - backends: ["idp-*"]        # any selected backend matches a name or glob
//!       tags: ["critical"]          # any selected backend carries one of these tags
//!       actions: ["terminate"]      # only these actions (default: every action)
//!       min_backends: 3             # the request selects at least this many backends
//!       approvers: ["lead", "secops-bot"]   # caller names from auth.tokens / auth.clients
//!       ttl_ms: 900000              # how long it may wait (default 15 minutes)
//! ```
//!
//! A rule matches a request when every condition it states holds (a rule that states no
//! condition but `actions` matches every request with those actions). Rules are read in
//! order; the first that matches decides who may approve and for how long.

use crate::plugin::Action;
use serde_yaml::Value;
use std::time::Duration;

use super::ctx::Ctx;
use super::file::{ApprovalRuleFile, APPROVALS_KEYS};
use super::model::{AuthConfig, BackendPattern};
use super::{path, url};

/// `ttl_ms` when absent: 15 minutes.
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(15 * 60);
/// The largest `ttl_ms`: 7 days.
const MAX_TTL_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// The largest `min_backends`.
const MAX_MIN_BACKENDS: u64 = 10_000;

/// The `approvals` section (no rules when absent: nothing waits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalsConfig {
    /// In file order; the first that matches a request decides.
    pub rules: Vec<ApprovalRule>,
}

/// One item of `approvals.rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    /// Its place in the file (`approvals.rules[index]`), for logs and the audit.
    pub index: usize,
    /// Matches when any selected backend's name matches one (none: no condition).
    pub backends: Vec<BackendPattern>,
    /// Matches when any selected backend carries one (none: no condition).
    pub tags: Vec<String>,
    /// Matches only these actions (none: every action).
    pub actions: Vec<Action>,
    /// Matches when the request selects at least this many backends.
    pub min_backends: Option<usize>,
    /// The callers (configured names) who may approve or deny.
    pub approvers: Vec<String>,
    /// How long a matching request may wait for a decision.
    pub ttl: Duration,
}

impl ApprovalRule {
    /// Whether a request for `action` on `selected` (name and tags of each backend it
    /// selects) needs this rule's approval.
    pub fn matches<'a>(
        &self,
        action: Action,
        selected: impl IntoIterator<Item = (&'a str, &'a [String])> + Clone,
    ) -> bool {
        if !self.actions.is_empty() && !self.actions.contains(&action) {
            return false;
        }
        let by_name = self.backends.is_empty()
            || selected
                .clone()
                .into_iter()
                .any(|(name, _)| self.backends.iter().any(|p| p.matches(name)));
        let by_tag = self.tags.is_empty()
            || selected
                .clone()
                .into_iter()
                .any(|(_, tags)| tags.iter().any(|t| self.tags.contains(t)));
        let by_count = self
            .min_backends
            .is_none_or(|n| selected.into_iter().count() >= n);
        by_name && by_tag && by_count
    }
}

impl ApprovalsConfig {
    /// The first rule that matches, if any.
    pub fn rule_for<'a>(
        &self,
        action: Action,
        selected: impl IntoIterator<Item = (&'a str, &'a [String])> + Clone,
    ) -> Option<&ApprovalRule> {
        self.rules
            .iter()
            .find(|r| r.matches(action, selected.clone()))
    }
}

/// Validates `approvals` (`node` is `None` when the key is absent). `auth` is the
/// validated `auth` section (`None` when it has errors or Sever runs without auth);
/// `insecure` is `server.insecure_no_auth`.
pub(super) fn approvals(
    ctx: &mut Ctx<'_>,
    node: Option<&Value>,
    auth: Option<&AuthConfig>,
    insecure: bool,
) -> Option<ApprovalsConfig> {
    let Some(node) = node else {
        return Some(ApprovalsConfig::default());
    };
    let map = ctx.mapping(node, "approvals", APPROVALS_KEYS)?;
    let items = ctx.list(map.get("rules"), "approvals.rules");
    if insecure && !items.is_empty() {
        ctx.error(
            "approvals",
            "approvals need caller authentication: with server.insecure_no_auth every caller \
             is `anonymous`, so nobody could approve another's request",
        );
        return None;
    }
    let before = ctx.errors.len();
    let mut rules = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = path::index("approvals.rules", index);
        let Some(file) = ctx.decode::<ApprovalRuleFile>(item, &at) else {
            continue;
        };
        if let Some(rule) = rule(ctx, &at, index, file, auth) {
            rules.push(rule);
        }
    }
    (ctx.errors.len() == before).then_some(ApprovalsConfig { rules })
}

fn rule(
    ctx: &mut Ctx<'_>,
    at: &str,
    index: usize,
    file: ApprovalRuleFile,
    auth: Option<&AuthConfig>,
) -> Option<ApprovalRule> {
    let key = |k: &str| path::key(at, k);
    let mut backends = Vec::new();
    for (i, pattern) in file.backends.iter().flatten().enumerate() {
        let item_at = path::index(&key("backends"), i);
        if pattern.is_empty() {
            ctx.error(item_at, "must not be empty");
            continue;
        }
        match BackendPattern::new(pattern) {
            Ok(p) => backends.push(p),
            Err(e) => ctx.error(item_at, format!("invalid pattern: {}", e.msg)),
        }
    }
    let tags = file.tags.unwrap_or_default();
    for (i, tag) in tags.iter().enumerate() {
        if !url::is_name(tag) {
            let message = format!("invalid tag: {}", url::NAME_RULE);
            ctx.error(path::index(&key("tags"), i), message);
        }
    }
    let mut actions = Vec::new();
    for (i, name) in file.actions.iter().flatten().enumerate() {
        match Action::parse(name) {
            Some(action) => actions.push(action),
            None => ctx.error(
                path::index(&key("actions"), i),
                "unknown action (expected disconnect, terminate or unbind)",
            ),
        }
    }
    let min_backends = match file.min_backends {
        None => None,
        Some(n) => ctx
            .bounded_from(&key("min_backends"), Some(n), 2, 2, MAX_MIN_BACKENDS)
            .and_then(|n| usize::try_from(n).ok()),
    };
    if file.approvers.is_empty() {
        ctx.error(
            key("approvers"),
            "must name at least one caller (a name from auth.tokens or auth.clients)",
        );
    }
    let mut approvers: Vec<String> = Vec::with_capacity(file.approvers.len());
    for (i, name) in file.approvers.iter().enumerate() {
        let item_at = path::index(&key("approvers"), i);
        let known = auth.is_none_or(|a| {
            a.tokens.iter().any(|t| &t.name == name) || a.clients.iter().any(|c| &c.name == name)
        });
        if !known {
            ctx.error(
                item_at,
                "names no caller: expected a name from auth.tokens or auth.clients",
            );
        } else if approvers.contains(name) {
            ctx.error(item_at, "listed twice");
        } else {
            approvers.push(name.clone());
        }
    }
    let ttl = ctx.bounded_from(
        &key("ttl_ms"),
        file.ttl_ms,
        DEFAULT_APPROVAL_TTL.as_millis() as u64,
        1,
        MAX_TTL_MS,
    )?;
    Some(ApprovalRule {
        index,
        backends,
        tags,
        actions,
        min_backends,
        approvers,
        ttl: Duration::from_millis(ttl),
    })
}

/// Approval rules that can never match: a backend pattern or a tag no configured backend
/// has (a typo would otherwise let every request through unapproved).
pub(super) fn warnings(config: &super::Config) -> Vec<super::ConfigError> {
    let mut warnings = Vec::new();
    if config.backends.is_empty() {
        return warnings;
    }
    for rule in &config.approvals.rules {
        let at = path::index("approvals.rules", rule.index);
        for (i, pattern) in rule.backends.iter().enumerate() {
            if !config.backends.iter().any(|b| pattern.matches(&b.name)) {
                warnings.push(super::ConfigError::new(
                    &config.source,
                    path::index(&path::key(&at, "backends"), i),
                    "matches no configured backend",
                ));
            }
        }
        for (i, tag) in rule.tags.iter().enumerate() {
            if !config.backends.iter().any(|b| b.tags.contains(tag)) {
                warnings.push(super::ConfigError::new(
                    &config.source,
                    path::index(&path::key(&at, "tags"), i),
                    "no configured backend carries this tag",
                ));
            }
        }
    }
    warnings
}

#[cfg(test)]
#[path = "approvals_tests.rs"]
mod tests;
