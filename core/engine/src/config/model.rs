//! The validated configuration model: what the rest of Sever reads.
//!
//! Every value here has been checked once, at load; nothing downstream re-checks it.
//! Types that hold a secret (a token digest, a backend's `settings`, a Redis URL that may
//! carry a password) implement `Debug` by hand so that a `{:?}` never prints it.

use crate::plugin::Action;
use serde_json::{Map, Value};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;

/// What `Debug` prints instead of a secret.
const REDACTED: &str = "<redacted>";

/// A whole, validated configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from, as given (used in error and warning lines).
    pub source: PathBuf,
    /// `server`: listeners, limits and TLS.
    pub server: ServerConfig,
    /// `plugins`: where to load adapter plugins from, in file order.
    pub plugins: Vec<PluginSource>,
    /// `auth`: who may call Sever. `None` only when `server.insecure_no_auth` is true.
    pub auth: Option<AuthConfig>,
    /// `audit`: where the audit log goes; `None` when the section is absent.
    pub audit: Option<AuditConfig>,
    /// `idempotency`: how `Idempotency-Key`s are remembered.
    pub idempotency: IdempotencyConfig,
    /// `approvals`: which requests wait for a second caller (none when absent).
    pub approvals: super::ApprovalsConfig,
    /// `tracing`: OpenTelemetry export.
    pub tracing: TracingConfig,
    /// `backends`, in file order (names are unique).
    pub backends: Vec<BackendConfig>,
}

impl Config {
    /// The backend with this name.
    pub fn backend(&self, name: &str) -> Option<&BackendConfig> {
        self.backends.iter().find(|b| b.name == name)
    }

    /// Settings this release parses but cannot honour safely: `sever serve` refuses to start
    /// with them and `sever check` reports them as errors. There are none in this release
    /// (`server.tls` and `auth.clients` are served since TLS landed); the hook stays so
    /// that a setting parsed ahead of its feature is refused, never silently ignored.
    pub fn unsupported(&self) -> Vec<ConfigError> {
        Vec::new()
    }

    /// Things that are allowed but probably not meant, as lines in the same
    /// `FILE:path: message` format as errors (for `sever check` and the startup log).
    pub fn warnings(&self) -> Vec<ConfigError> {
        let mut warnings = Vec::new();
        let file = self.source.as_path();
        if self.server.insecure_no_auth {
            warnings.push(ConfigError::new(
                file,
                "server.insecure_no_auth",
                "caller authentication is OFF: anyone who can reach server.listen can cut \
                 connections (local trials only)",
            ));
        }
        if self.backends.is_empty() {
            warnings.push(ConfigError::new(
                file,
                "backends",
                "no backends are configured: every action will answer unknown_backend",
            ));
        }
        // With no backends at all, every pattern would be reported: the warning above says it.
        if let Some(auth) = self.auth.as_ref().filter(|_| !self.backends.is_empty()) {
            let callers = auth
                .tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("auth.tokens[{i}]"), &t.allow))
                .chain(
                    auth.clients
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (format!("auth.clients[{i}]"), &c.allow)),
                );
            for (caller, rules) in callers {
                for (r, rule) in rules.iter().enumerate() {
                    for (p, pattern) in rule.backends.iter().enumerate() {
                        if !self.backends.iter().any(|b| pattern.matches(&b.name)) {
                            warnings.push(ConfigError::new(
                                file,
                                format!("{caller}.allow[{r}].backends[{p}]"),
                                "matches no configured backend",
                            ));
                        }
                    }
                }
            }
        }
        warnings.extend(super::approvals::warnings(self));
        warnings
    }
}

/// The `server` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where the canonical API listens (`listen`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// An extra listener serving only `/metrics` and the probes (`metrics_listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// Larger request bodies get 413 (`max_body_bytes`, default 65536).
    pub max_body_bytes: usize,
    /// Limit for a whole canonical request (`request_timeout_ms`, default 5 s).
    pub request_timeout: Duration,
    /// How long SIGTERM waits for in-flight requests (`shutdown_grace_ms`, default 10 s).
    pub shutdown_grace: Duration,
    /// No caller authentication (`insecure_no_auth`, default false).
    pub insecure_no_auth: bool,
    /// Beyond this many requests in flight, 503 `overloaded` (`max_in_flight`, default 4096).
    pub max_in_flight: usize,
    /// Deadline for a whole request head, from its first byte (`header_timeout_ms`,
    /// default 10 s); then 408 and the connection is closed.
    pub header_timeout: Duration,
    /// The most a request head may hold, request line and fields together
    /// (`max_header_bytes`, default 16 KiB); larger heads get 431.
    pub max_header_bytes: usize,
    /// The buffer each request head is first read into (`read_buffer_bytes`, default
    /// 1024): held by every open connection while it waits for a request, and grown
    /// (doubling, up to `max_header_bytes`) only for a larger head, one more read each time.
    pub read_buffer_bytes: usize,
    /// Open connections on `listen` (`max_connections`, default 16384); more are closed
    /// at once. Lowered at start to fit the process's descriptor limit.
    pub max_connections: usize,
    /// Serve the responder console's static files at `/console` on `listen` (`console`,
    /// default true).
    pub console: bool,
    /// Serve HTTPS (`tls`).
    pub tls: Option<TlsConfig>,
}

/// `server.tls`. Paths are absolute (relative ones were resolved against the config
/// file's folder). The files were read and checked when the config was loaded;
/// [`TlsConfig::load`] reads them again for the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_path: PathBuf,
    /// PEM private key.
    pub key_path: PathBuf,
    /// PEM CA bundle; when set, client certificates are required (mTLS).
    pub client_ca_path: Option<PathBuf>,
}

/// One item of the `plugins` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSource {
    /// The item's position in the list, so that load errors can name `plugins[index]`.
    pub index: usize,
    /// What to load.
    pub kind: PluginSourceKind,
}

impl PluginSource {
    /// The config path of the item's key (`plugins[1].path` or `plugins[1].dir`), for
    /// error lines about loading it.
    pub fn config_path(&self) -> String {
        let key = match self.kind {
            PluginSourceKind::File(_) => "path",
            PluginSourceKind::Dir(_) => "dir",
        };
        format!("plugins[{}].{key}", self.index)
    }
}

/// Where a plugin comes from. Paths are absolute; existence is not checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSourceKind {
    /// `path:` one shared library.
    File(PathBuf),
    /// `dir:` every `lib*.so` in a folder that exports the Sever ABI.
    Dir(PathBuf),
}

/// The `auth` section: at least one token or client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Bearer tokens.
    pub tokens: Vec<TokenConfig>,
    /// Callers identified by client certificate (needs `server.tls.client_ca_path`).
    pub clients: Vec<ClientConfig>,
}

/// One bearer token. Names and digests are unique among all tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// Shown in the audit log and metrics; unique among tokens and clients.
    pub name: String,
    /// SHA-256 of the token. The plaintext is never kept. Compare in constant time.
    pub sha256: [u8; 32],
    /// What the token may do; an empty list allows only listing.
    pub allow: Vec<AllowRule>,
}

impl TokenConfig {
    /// Whether any rule allows `action` on `backend`.
    pub fn permits(&self, backend: &str, action: Action) -> bool {
        self.allow.iter().any(|r| r.permits(backend, action))
    }
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("sha256", &REDACTED)
            .field("allow", &self.allow)
            .finish()
    }
}

/// One caller identified by its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Shown in the audit log and metrics; unique among tokens and clients.
    pub name: String,
    /// What the verified client certificate must carry (`CN=soar-bot`); unique.
    pub subject: CertSubject,
    /// What the client may do.
    pub allow: Vec<AllowRule>,
}

impl ClientConfig {
    /// Whether any rule allows `action` on `backend`.
    pub fn permits(&self, backend: &str, action: Action) -> bool {
        self.allow.iter().any(|r| r.permits(backend, action))
    }
}

/// `auth.clients[].subject`: the name a verified client certificate must carry.
///
/// The rule (also in the README): `CN=<name>` matches a certificate whose subject has the
/// common name `<name>` (exactly), or whose subjectAltName has a DNS name equal to `<name>`
/// (ASCII case-insensitively) or a URI equal to `<name>` (exactly). `DNS:<name>` and
/// `URI:<uri>` match only that kind of subjectAltName. Wildcard DNS names in a
/// certificate are compared as written, never expanded. The prefixes are
/// case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CertSubject {
    /// `CN=<name>`: the subject's common name, a SAN DNS name or a SAN URI.
    CommonName(String),
    /// `DNS:<name>`: a SAN DNS name (ASCII case-insensitive).
    Dns(String),
    /// `URI:<uri>`: a SAN URI (exact).
    Uri(String),
}

impl CertSubject {
    /// Parses `CN=<name>`, `DNS:<name>` or `URI:<uri>`; `None` for anything else, such as
    /// a whole distinguished name (`CN=a,O=b`), which would never match.
    pub fn parse(text: &str) -> Option<CertSubject> {
        let split = |prefix: &str| {
            text.get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .map(|_| &text[prefix.len()..])
        };
        let (subject, value): (fn(String) -> CertSubject, &str) = if let Some(v) = split("CN=") {
            if v.contains([',', '=', '+']) {
                return None;
            }
            (CertSubject::CommonName, v)
        } else if let Some(v) = split("DNS:") {
            (CertSubject::Dns, v)
        } else if let Some(v) = split("URI:") {
            (CertSubject::Uri, v)
        } else {
            return None;
        };
        let valid = !value.is_empty()
            && value.len() <= 256
            && value.trim() == value
            && !value.chars().any(char::is_control);
        valid.then(|| subject(value.to_owned()))
    }
}

impl fmt::Display for CertSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertSubject::CommonName(v) => write!(f, "CN={v}"),
            CertSubject::Dns(v) => write!(f, "DNS:{v}"),
            CertSubject::Uri(v) => write!(f, "URI:{v}"),
        }
    }
}

/// One `allow` entry: these actions on these backends. Both lists are non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    /// Backend names or globs.
    pub backends: Vec<BackendPattern>,
    /// Allowed actions.
    pub actions: Vec<Action>,
}

impl AllowRule {
    /// Whether this rule allows `action` on `backend`.
    pub fn permits(&self, backend: &str, action: Action) -> bool {
        self.actions.contains(&action) && self.backends.iter().any(|p| p.matches(backend))
    }
}

/// A backend name or glob (`*`, `mqtt-*`, `rabbit-[12]`).
#[derive(Clone, PartialEq, Eq)]
pub struct BackendPattern(glob::Pattern);

impl BackendPattern {
    /// Parses a pattern; the error is glob's description of what is wrong.
    pub fn new(pattern: &str) -> Result<Self, glob::PatternError> {
        glob::Pattern::new(pattern).map(BackendPattern)
    }

    /// Whether the backend name matches (`*` matches every name).
    pub fn matches(&self, name: &str) -> bool {
        self.0.matches(name)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for BackendPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BackendPattern")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for BackendPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `audit` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The JSON-lines file, absolute (relative paths resolve against the config folder).
    pub path: PathBuf,
    /// When a line is forced to disk (`fsync`: `never`, the default, or `per_line`).
    pub fsync: crate::audit::Fsync,
}

/// The `idempotency` section (defaults when absent).
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// In-memory bound on remembered keys (`max_entries`, default 100000).
    pub max_entries: usize,
    /// A Redis shared by several replicas (`redis_url`); may hold a password.
    pub redis_url: Option<String>,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            max_entries: 100_000,
            redis_url: None,
        }
    }
}

impl fmt::Debug for IdempotencyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyConfig")
            .field("max_entries", &self.max_entries)
            .field("redis_url", &self.redis_url.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// The `tracing` section (defaults when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TracingConfig {
    /// OpenTelemetry OTLP/gRPC endpoint (`http(s)://host:port`, no trailing `/`): when set,
    /// `sever serve` exports its spans there.
    pub otlp_endpoint: Option<String>,
}

/// One entry of `backends`.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// The map key: `[a-z0-9][a-z0-9_-]{0,62}`.
    pub name: String,
    /// The plugin's name (whether it is loaded is checked by the plugin host).
    pub plugin: String,
    /// Vendor base URL: `http` or `https`, host, optional port and base path, no query,
    /// fragment or user info, no trailing `/`.
    pub url: String,
    /// Limit for one vendor call (`timeout_ms`, default 2 s).
    pub timeout: Duration,
    /// Retries of calls the plugin marks idempotent (`retries`, default 1, at most 10).
    pub retries: u32,
    /// Beyond this many calls in flight, 503 `overloaded` (`max_concurrency`, default 256).
    pub max_concurrency: usize,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
    /// Labels for fan-out selection (same charset as backend names).
    pub tags: Vec<String>,
    /// Plugin-specific settings, `${VAR}` expanded; validated by the plugin. May hold
    /// secrets: never log them.
    pub settings: Map<String, Value>,
}

impl fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Settings keys with every value hidden.
        struct Keys<'a>(&'a Map<String, Value>);
        impl fmt::Debug for Keys<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, REDACTED)))
                    .finish()
            }
        }
        f.debug_struct("BackendConfig")
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("max_concurrency", &self.max_concurrency)
            .field("breaker", &self.breaker)
            .field("tags", &self.tags)
            .field("settings", &Keys(&self.settings))
            .finish()
    }
}

/// `backends.*.breaker`: opens after `failures` consecutive failures, for `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (`failures`, default 5).
    pub failures: u32,
    /// How long it stays open before a trial call (`open_ms`, default 10 s).
    pub open: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 5,
            open: Duration::from_millis(10_000),
        }
    }
}

/// Resolves a configured path against the config file's folder.
pub(super) fn resolve(dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}
