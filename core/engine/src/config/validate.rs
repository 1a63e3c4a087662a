//! From the expanded YAML tree to the model, collecting every problem on the way.
//!
//! Each section, list item and backend is deserialized on its own, so that one mistake
//! does not hide the others; then its values are checked one by one. The model is built
//! only when nothing at all was wrong.

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::de::{kind, unknown_key_message, DeError, Node};
use super::error::ConfigError;
use super::expand::Env;
use super::file::{
    AuditFile, BackendFile, IdempotencyFile, PluginFile, ServerFile, TlsFile, TracingFile, SECTIONS,
};
use super::model::{
    resolve, AuditConfig, BackendConfig, BreakerConfig, Config, IdempotencyConfig, PluginSource,
    PluginSourceKind, ServerConfig, TlsConfig, TracingConfig,
};
use super::{auth, path, url};

/// `server.listen` when absent.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8080,
));
/// The longest duration any `*_ms` key accepts: one day. Far larger values are typos and
/// would overflow deadline arithmetic.
const MAX_MS: u64 = 86_400_000;
/// The largest `max_body_bytes`: canonical requests are a few hundred bytes.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// The largest `max_in_flight` / `max_concurrency`.
const MAX_CONCURRENCY: u64 = 1_000_000;
/// The largest `retries`.
const MAX_RETRIES: u64 = 10;
/// The largest `breaker.failures`.
const MAX_BREAKER_FAILURES: u64 = 10_000;
/// The largest `idempotency.max_entries`.
const MAX_IDEMPOTENCY_ENTRIES: u64 = 100_000_000;

/// The state of one validation run: where errors go and what paths resolve against.
pub(super) struct Ctx<'a> {
    /// The config file, as given (for error lines).
    pub(super) file: &'a Path,
    /// The absolute folder relative paths resolve against.
    pub(super) dir: PathBuf,
    /// The environment (`token_env`).
    pub(super) env: Env<'a>,
    /// Every problem so far.
    pub(super) errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    /// Records a problem.
    pub(super) fn error(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(self.file, at.into(), message.into()));
    }

    /// Deserializes one node, recording every problem at its exact path.
    ///
    /// serde stops at the first problem, so after one in a key of a mapping, that key is
    /// dropped and the rest decoded again: a typo in `tls` does not hide a bad `listen`.
    /// The result is then usable for checking the other keys (a dropped optional key reads
    /// as absent), but it is only `Some` when no required key was dropped.
    pub(super) fn decode<T: DeserializeOwned>(&mut self, node: &Value, at: &str) -> Option<T> {
        let mut trimmed: Option<Value> = None;
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let current = trimmed.as_ref().unwrap_or(node);
            let error = match serde_path_to_error::deserialize(Node(current)) {
                Ok(value) => return Some(value),
                Err(error) => error,
            };
            let first_key = match error.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            let tracked = path::join_tracked(at, error.path());
            match error.into_inner() {
                // A required key of this node: nothing usable without it. If we dropped it
                // ourselves, its problem is already reported.
                DeError::MissingKey(key) if first_key.is_none() => {
                    if !dropped.iter().any(|d| d == key) {
                        self.error(
                            path::key(&tracked, key),
                            DeError::MissingKey(key).to_string(),
                        );
                    }
                    return None;
                }
                missing @ DeError::MissingKey(key) => {
                    self.error(path::key(&tracked, key), missing.to_string());
                }
                other => self.error(tracked, other.to_string()),
            }
            let next = trimmed.get_or_insert_with(|| node.clone());
            let removed = match (first_key, next.as_mapping_mut()) {
                (Some(key), Some(map)) => {
                    let found = map.keys().find(|k| path::key_text(k) == key).cloned();
                    found.and_then(|k| map.shift_remove(&k)).map(|_| key)
                }
                _ => None,
            };
            match removed {
                Some(key) => dropped.push(key),
                None => return None,
            }
        }
    }

    /// A mapping whose keys are checked against `keys` (null counts as empty).
    pub(super) fn mapping<'v>(
        &mut self,
        node: &'v Value,
        at: &str,
        keys: &'static [&'static str],
    ) -> Option<&'v Mapping> {
        static EMPTY: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        let map = match node {
            Value::Null => EMPTY.get_or_init(Mapping::new),
            Value::Mapping(map) => map,
            other => {
                self.error(at, format!("expected a mapping, found {}", kind(other)));
                return None;
            }
        };
        for key in map.keys() {
            let name = path::key_text(key);
            if !keys.contains(&name.as_str()) {
                self.error(path::key(at, &name), unknown_key_message(keys));
            }
        }
        Some(map)
    }

    /// The items of a list (absent or null: none).
    pub(super) fn list<'v>(&mut self, node: Option<&'v Value>, at: &str) -> &'v [Value] {
        match node {
            None | Some(Value::Null) => &[],
            Some(Value::Sequence(items)) => items,
            Some(other) => {
                self.error(at, format!("expected a list, found {}", kind(other)));
                &[]
            }
        }
    }

    /// A path value: non-empty, resolved against the config folder.
    pub(super) fn path(&mut self, at: &str, text: &str) -> Option<PathBuf> {
        if text.is_empty() {
            self.error(at, "must not be empty");
            return None;
        }
        Some(resolve(&self.dir, text))
    }

    /// A number with a default and bounds.
    fn bounded(&mut self, at: &str, value: Option<u64>, default: u64, max: u64) -> Option<u64> {
        self.bounded_from(at, value, default, 1, max)
    }

    /// A number with a default, a minimum and a maximum.
    fn bounded_from(
        &mut self,
        at: &str,
        value: Option<u64>,
        default: u64,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let value = value.unwrap_or(default);
        if value < min {
            self.error(at, format!("must be at least {min}"));
            None
        } else if value > max {
            self.error(at, format!("must be at most {max}"));
            None
        } else {
            Some(value)
        }
    }

    /// Milliseconds as a duration (1 ms to one day).
    fn millis(&mut self, at: &str, value: Option<u64>, default: u64) -> Option<Duration> {
        self.bounded(at, value, default, MAX_MS)
            .map(Duration::from_millis)
    }

    /// A count that sizes something in memory.
    fn count(&mut self, at: &str, value: Option<u64>, default: u64, max: u64) -> Option<usize> {
        let value = self.bounded(at, value, default, max)?;
        match usize::try_from(value) {
            Ok(value) => Some(value),
            Err(_) => {
                self.error(at, "too large for this platform");
                None
            }
        }
    }

    /// An `ip:port` listen address.
    fn socket_addr(&mut self, at: &str, text: &str) -> Option<SocketAddr> {
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(
                    at,
                    "expected an IP address and port, like 127.0.0.1:8080 or [::1]:8080",
                );
                None
            }
        }
    }

    /// A base URL (see [`url::base_url`]).
    fn url(&mut self, at: &str, text: &str) -> Option<String> {
        match url::base_url(text) {
            Ok(url) => Some(url),
            Err(message) => {
                self.error(at, message);
                None
            }
        }
    }
}

/// Validates the whole tree; `None` when anything was wrong (see `ctx.errors`).
pub(super) fn config(root: &Value, ctx: &mut Ctx<'_>) -> Option<Config> {
    let empty = Mapping::new();
    let top = match root {
        Value::Null => &empty,
        Value::Mapping(map) => map,
        other => {
            ctx.error(
                "",
                format!(
                    "expected a mapping of sections (server, plugins, auth, backends, …), found {}",
                    kind(other)
                ),
            );
            return None;
        }
    };
    for key in top.keys() {
        let name = path::key_text(key);
        if !SECTIONS.contains(&name.as_str()) {
            ctx.error(path::key("", &name), unknown_key_message(SECTIONS));
        }
    }
    let section = |name: &str| top.get(name).filter(|v| !v.is_null());

    let server = server(ctx, section("server"));
    let plugins = plugins(ctx, section("plugins"));
    let auth = auth::auth(ctx, top.get("auth"), section("server"));
    let audit = match section("audit") {
        None => Some(None),
        Some(node) => audit(ctx, node).map(Some),
    };
    let idempotency = idempotency(ctx, section("idempotency"));
    let tracing = tracing(ctx, section("tracing"));
    let backends = backends(ctx, section("backends"));

    if !ctx.errors.is_empty() {
        return None;
    }
    Some(Config {
        source: ctx.file.to_path_buf(),
        server: server?,
        plugins,
        auth,
        audit: audit?,
        idempotency: idempotency?,
        tracing: tracing?,
        backends,
    })
}

fn server(ctx: &mut Ctx<'_>, node: Option<&Value>) -> Option<ServerConfig> {
    let file = match node {
        None => ServerFile::default(),
        Some(node) => ctx.decode::<ServerFile>(node, "server")?,
    };
    let listen = match &file.listen {
        None => Some(DEFAULT_LISTEN),
        Some(text) => ctx.socket_addr("server.listen", text),
    };
    let metrics_listen = match &file.metrics_listen {
        None => Some(None),
        Some(text) => ctx.socket_addr("server.metrics_listen", text).map(Some),
    };
    if let (Some(listen), Some(Some(metrics))) = (listen, metrics_listen) {
        if listen == metrics && listen.port() != 0 {
            ctx.error(
                "server.metrics_listen",
                "same address as server.listen (/metrics is always served there too)",
            );
        }
    }
    let max_body_bytes = ctx.count(
        "server.max_body_bytes",
        file.max_body_bytes,
        65_536,
        MAX_BODY_BYTES,
    );
    let request_timeout = ctx.millis("server.request_timeout_ms", file.request_timeout_ms, 5_000);
    let shutdown_grace = ctx.millis("server.shutdown_grace_ms", file.shutdown_grace_ms, 10_000);
    let max_in_flight = ctx.count(
        "server.max_in_flight",
        file.max_in_flight,
        4_096,
        MAX_CONCURRENCY,
    );
    let tls = match file.tls {
        None => Some(None),
        Some(tls) => self::tls(ctx, tls).map(Some),
    };
    Some(ServerConfig {
        listen: listen?,
        metrics_listen: metrics_listen?,
        max_body_bytes: max_body_bytes?,
        request_timeout: request_timeout?,
        shutdown_grace: shutdown_grace?,
        insecure_no_auth: file.insecure_no_auth.unwrap_or(false),
        max_in_flight: max_in_flight?,
        tls: tls?,
    })
}

fn tls(ctx: &mut Ctx<'_>, file: TlsFile) -> Option<TlsConfig> {
    let cert_path = ctx.path("server.tls.cert_path", &file.cert_path);
    let key_path = ctx.path("server.tls.key_path", &file.key_path);
    let client_ca_path = match &file.client_ca_path {
        None => Some(None),
        Some(text) => ctx.path("server.tls.client_ca_path", text).map(Some),
    };
    Some(TlsConfig {
        cert_path: cert_path?,
        key_path: key_path?,
        client_ca_path: client_ca_path?,
    })
}

fn plugins(ctx: &mut Ctx<'_>, node: Option<&Value>) -> Vec<PluginSource> {
    let mut plugins = Vec::new();
    for (index, item) in ctx.list(node, "plugins").iter().enumerate() {
        let at = path::index("plugins", index);
        let Some(file) = ctx.decode::<PluginFile>(item, &at) else {
            continue;
        };
        let kind = match (file.path, file.dir) {
            (Some(p), None) => ctx
                .path(&path::key(&at, "path"), &p)
                .map(PluginSourceKind::File),
            (None, Some(d)) => ctx
                .path(&path::key(&at, "dir"), &d)
                .map(PluginSourceKind::Dir),
            (Some(_), Some(_)) => {
                ctx.error(&at, "give either path or dir, not both");
                None
            }
            (None, None) => {
                ctx.error(
                    &at,
                    "give path (one plugin library) or dir (a folder of plugin libraries)",
                );
                None
            }
        };
        if let Some(kind) = kind {
            plugins.push(PluginSource { index, kind });
        }
    }
    plugins
}

fn audit(ctx: &mut Ctx<'_>, node: &Value) -> Option<AuditConfig> {
    let file = ctx.decode::<AuditFile>(node, "audit")?;
    let path = ctx.path("audit.path", &file.path)?;
    Some(AuditConfig { path })
}

fn idempotency(ctx: &mut Ctx<'_>, node: Option<&Value>) -> Option<IdempotencyConfig> {
    let file = match node {
        None => IdempotencyFile::default(),
        Some(node) => ctx.decode::<IdempotencyFile>(node, "idempotency")?,
    };
    let defaults = IdempotencyConfig::default();
    let max_entries = ctx.count(
        "idempotency.max_entries",
        file.max_entries,
        defaults.max_entries as u64,
        MAX_IDEMPOTENCY_ENTRIES,
    );
    let redis_url = match file.redis_url {
        None => Some(None),
        Some(url) => {
            const SCHEMES: [&str; 4] = ["redis://", "rediss://", "redis+unix://", "unix://"];
            if SCHEMES
                .iter()
                .any(|s| url.starts_with(s) && url.len() > s.len())
            {
                Some(Some(url))
            } else {
                ctx.error(
                    "idempotency.redis_url",
                    "expected a Redis URL: redis://, rediss://, redis+unix:// or unix://",
                );
                None
            }
        }
    };
    Some(IdempotencyConfig {
        max_entries: max_entries?,
        redis_url: redis_url?,
    })
}

fn tracing(ctx: &mut Ctx<'_>, node: Option<&Value>) -> Option<TracingConfig> {
    let file = match node {
        None => TracingFile::default(),
        Some(node) => ctx.decode::<TracingFile>(node, "tracing")?,
    };
    let otlp_endpoint = match &file.otlp_endpoint {
        None => None,
        Some(text) => Some(ctx.url("tracing.otlp_endpoint", text)?),
    };
    Some(TracingConfig { otlp_endpoint })
}

fn backends(ctx: &mut Ctx<'_>, node: Option<&Value>) -> Vec<BackendConfig> {
    let map = match node {
        None => return Vec::new(),
        Some(Value::Mapping(map)) => map,
        Some(other) => {
            ctx.error(
                "backends",
                format!(
                    "expected a mapping of backend names to backends, found {}",
                    kind(other)
                ),
            );
            return Vec::new();
        }
    };
    let mut backends = Vec::new();
    for (key, node) in map {
        let name = path::key_text(key);
        let at = path::key("backends", &name);
        let name_ok = key.is_string() && url::is_name(&name);
        if !name_ok {
            ctx.error(&at, format!("invalid backend name: {}", url::NAME_RULE));
        }
        if let Some(backend) = backend(ctx, &at, name, node) {
            if name_ok {
                backends.push(backend);
            }
        }
    }
    backends
}

fn backend(ctx: &mut Ctx<'_>, at: &str, name: String, node: &Value) -> Option<BackendConfig> {
    let file = ctx.decode::<BackendFile>(node, at)?;
    let key = |k: &str| path::key(at, k);
    let plugin = if url::is_label(&file.plugin) {
        Some(file.plugin)
    } else {
        ctx.error(key("plugin"), "must name a plugin");
        None
    };
    let url = ctx.url(&key("url"), &file.url);
    let timeout = ctx.millis(&key("timeout_ms"), file.timeout_ms, 2_000);
    let retries = ctx.bounded_from(&key("retries"), file.retries, 1, 0, MAX_RETRIES);
    let max_concurrency = ctx.count(
        &key("max_concurrency"),
        file.max_concurrency,
        256,
        MAX_CONCURRENCY,
    );
    let breaker_file = file.breaker.unwrap_or_default();
    let defaults = BreakerConfig::default();
    let failures = ctx.bounded(
        &key("breaker.failures"),
        breaker_file.failures,
        u64::from(defaults.failures),
        MAX_BREAKER_FAILURES,
    );
    let open = ctx.millis(
        &key("breaker.open_ms"),
        breaker_file.open_ms,
        defaults.open.as_millis() as u64,
    );
    let tags = file.tags.unwrap_or_default();
    let mut tags_ok = true;
    for (i, tag) in tags.iter().enumerate() {
        if !url::is_name(tag) {
            ctx.error(
                path::index(&key("tags"), i),
                format!("invalid tag: {}", url::NAME_RULE),
            );
            tags_ok = false;
        }
    }
    Some(BackendConfig {
        name,
        plugin: plugin?,
        url: url?,
        timeout: timeout?,
        retries: u32::try_from(retries?).ok()?,
        max_concurrency: max_concurrency?,
        breaker: BreakerConfig {
            failures: u32::try_from(failures?).ok()?,
            open: open?,
        },
        tags: tags_ok.then_some(tags)?,
        settings: file.settings.unwrap_or_default(),
    })
}
