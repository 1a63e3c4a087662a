//! From the expanded YAML tree to the model, collecting every problem on the way.
//!
//! Each section, list item and backend is deserialized on its own, so that one mistake
//! does not hide the others; then its values are checked one by one. The model is built
//! only when nothing at all was wrong.

use super::Partial;
use serde_yaml::{Mapping, Value};
use std::net::SocketAddr;

use super::ctx::Ctx;
use super::de::{kind, unknown_key_message};
use super::file::{
    AuditFile, BackendFile, IdempotencyFile, PluginFile, ServerFile, TlsFile, TracingFile, SECTIONS,
};
use super::model::{
    AuditConfig, BackendConfig, BreakerConfig, Config, IdempotencyConfig, PluginSource,
    PluginSourceKind, ServerConfig, TlsConfig, TracingConfig,
};
use super::{auth, path, url};

/// `server.listen` when absent.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8080,
));
/// The largest `max_body_bytes`: canonical requests are a few hundred bytes.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// The largest `max_in_flight` / `max_concurrency`.
const MAX_CONCURRENCY: u64 = 1_000_000;
/// The largest `max_header_bytes`.
const MAX_HEADER_BYTES: u64 = 1024 * 1024;
/// The smallest `max_header_bytes`: a request line and a bearer token fit.
const MIN_HEADER_BYTES: u64 = 1024;
/// The smallest `read_buffer_bytes`.
const MIN_READ_BUFFER: u64 = 128;
/// The largest `max_connections`.
const MAX_CONNECTIONS: u64 = 10_000_000;
/// The largest `retries`.
const MAX_RETRIES: u64 = 10;
/// The largest `breaker.failures`.
const MAX_BREAKER_FAILURES: u64 = 10_000;
/// The largest `idempotency.max_entries`.
const MAX_IDEMPOTENCY_ENTRIES: u64 = 100_000_000;

/// Validates the whole tree; `None` when anything was wrong (see `ctx.errors`).
/// The whole config, or `None` when anything is wrong; in both cases the plugin sources
/// and the backends that are valid on their own (for `sever check` to go on with).
pub(super) fn config(root: &Value, ctx: &mut Ctx<'_>) -> (Option<Config>, Partial) {
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
            return (None, Partial::default());
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
    let insecure = section("server")
        .and_then(|s| s.get("insecure_no_auth"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let approvals = super::approvals::approvals(ctx, section("approvals"), auth.as_ref(), insecure);
    let tracing = tracing(ctx, section("tracing"));
    let backends = backends(ctx, section("backends"));

    if !ctx.errors.is_empty() {
        return (None, Partial { plugins, backends });
    }
    let config = (|| {
        Some(Config {
            source: ctx.file.to_path_buf(),
            server: server?,
            plugins: plugins.clone(),
            auth,
            audit: audit?,
            idempotency: idempotency?,
            approvals: approvals?,
            tracing: tracing?,
            backends: backends.clone(),
        })
    })();
    (config, Partial { plugins, backends })
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
    let header_timeout = ctx.millis("server.header_timeout_ms", file.header_timeout_ms, 10_000);
    let max_header_bytes = ctx
        .bounded_from(
            "server.max_header_bytes",
            file.max_header_bytes,
            16 * 1024,
            MIN_HEADER_BYTES,
            MAX_HEADER_BYTES,
        )
        .and_then(|n| usize::try_from(n).ok());
    let read_buffer_bytes = ctx
        .bounded_from(
            "server.read_buffer_bytes",
            file.read_buffer_bytes,
            1024,
            MIN_READ_BUFFER,
            MAX_HEADER_BYTES,
        )
        .and_then(|n| usize::try_from(n).ok());
    let max_connections = ctx.count(
        "server.max_connections",
        file.max_connections,
        16_384,
        MAX_CONNECTIONS,
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
        header_timeout: header_timeout?,
        max_header_bytes: max_header_bytes?,
        read_buffer_bytes: read_buffer_bytes?,
        max_connections: max_connections?,
        console: file.console.unwrap_or(true),
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
    let config = TlsConfig {
        cert_path: cert_path?,
        key_path: key_path?,
        client_ca_path: client_ca_path?,
    };
    // Read now, so that `sever check` reports what `sever serve` would fail on.
    match config.load(ctx.file) {
        Ok(_) => Some(config),
        Err(errors) => {
            ctx.errors.extend(errors);
            None
        }
    }
}

fn plugins(ctx: &mut Ctx<'_>, node: Option<&Value>) -> Vec<PluginSource> {
    let mut plugins = Vec::new();
    for (index, item) in ctx.list(node, "plugins").iter().enumerate() {
        let at = path::index("plugins", index);
        let Some((file, complete)) = ctx.decode_partial::<PluginFile>(item, &at) else {
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
            (None, None) if !complete => None,
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
    let path = ctx.path("audit.path", &file.path);
    let fsync = match file.fsync.as_deref() {
        None | Some("never") => Some(crate::audit::Fsync::Never),
        Some("per_line") => Some(crate::audit::Fsync::PerLine),
        Some(_) => {
            ctx.error(
                "audit.fsync",
                "unknown value (expected one of never, per_line)",
            );
            None
        }
    };
    Some(AuditConfig {
        path: path?,
        fsync: fsync?,
    })
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
            // No `rediss://`: this build has no TLS client for Redis.
            const SCHEMES: [&str; 3] = ["redis://", "redis+unix://", "unix://"];
            if SCHEMES
                .iter()
                .any(|s| url.starts_with(s) && url.len() > s.len())
            {
                Some(Some(url))
            } else {
                ctx.error(
                    "idempotency.redis_url",
                    "expected a Redis URL: redis://, redis+unix:// or unix:// (rediss://, Redis \
                     over TLS, is not supported)",
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
    let url = ctx.backend_url(&key("url"), &file.url);
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
