//! The file format: what each section looks like in YAML, before validation.
//!
//! These structs only fix the shape (keys, types, what is required); every rule about
//! values lives in `validate.rs`. Absent optional keys are `None` here and get their
//! defaults during validation, so that the defaults are written in one place.

use serde::Deserialize;
use serde_json::{Map, Value as JsonValue};

/// The top-level keys, in the order they are documented.
pub(super) const SECTIONS: &[&str] = &[
    "server",
    "plugins",
    "auth",
    "audit",
    "idempotency",
    "approvals",
    "tracing",
    "backends",
];

/// The keys of `approvals`, whose list is read item by item.
pub(super) const APPROVALS_KEYS: &[&str] = &["rules"];

/// The keys of `auth`, whose lists are read item by item.
pub(super) const AUTH_KEYS: &[&str] = &["tokens", "clients"];

/// `server`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerFile {
    pub(super) listen: Option<String>,
    pub(super) metrics_listen: Option<String>,
    pub(super) max_body_bytes: Option<u64>,
    pub(super) request_timeout_ms: Option<u64>,
    pub(super) shutdown_grace_ms: Option<u64>,
    pub(super) insecure_no_auth: Option<bool>,
    pub(super) max_in_flight: Option<u64>,
    pub(super) header_timeout_ms: Option<u64>,
    pub(super) max_header_bytes: Option<u64>,
    pub(super) read_buffer_bytes: Option<u64>,
    pub(super) max_connections: Option<u64>,
    pub(super) console: Option<bool>,
    pub(super) tls: Option<TlsFile>,
}

/// `server.tls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFile {
    pub(super) cert_path: String,
    pub(super) key_path: String,
    pub(super) client_ca_path: Option<String>,
}

/// One item of `plugins`: exactly one of the two (checked in validation, so that the
/// error can name the item).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PluginFile {
    pub(super) path: Option<String>,
    pub(super) dir: Option<String>,
}

/// One item of `auth.tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenFile {
    pub(super) name: String,
    pub(super) token_sha256: Option<String>,
    pub(super) token_env: Option<String>,
    pub(super) allow: Vec<AllowFile>,
}

/// One item of `auth.clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientFile {
    pub(super) name: String,
    pub(super) subject: String,
    pub(super) allow: Vec<AllowFile>,
}

/// One `allow` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AllowFile {
    pub(super) backends: Vec<String>,
    pub(super) actions: Vec<String>,
}

/// `audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditFile {
    pub(super) path: String,
    /// `never` or `per_line` (checked in validation).
    pub(super) fsync: Option<String>,
}

/// `idempotency`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IdempotencyFile {
    pub(super) max_entries: Option<u64>,
    pub(super) redis_url: Option<String>,
}

/// One item of `approvals.rules` (decoded item by item).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApprovalRuleFile {
    pub(super) backends: Option<Vec<String>>,
    pub(super) tags: Option<Vec<String>>,
    pub(super) actions: Option<Vec<String>>,
    pub(super) min_backends: Option<u64>,
    pub(super) approvers: Vec<String>,
    pub(super) ttl_ms: Option<u64>,
}

/// `tracing`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TracingFile {
    pub(super) otlp_endpoint: Option<String>,
}

/// One value of `backends`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackendFile {
    pub(super) plugin: String,
    pub(super) url: String,
    pub(super) timeout_ms: Option<u64>,
    pub(super) retries: Option<u64>,
    pub(super) max_concurrency: Option<u64>,
    pub(super) breaker: Option<BreakerFile>,
    pub(super) tags: Option<Vec<String>>,
    pub(super) settings: Option<Map<String, JsonValue>>,
}

/// `backends.*.breaker`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BreakerFile {
    pub(super) failures: Option<u64>,
    pub(super) open_ms: Option<u64>,
}
