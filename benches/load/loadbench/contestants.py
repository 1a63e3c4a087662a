"""The contestants' configurations (nginx, HAProxy, the pingora passthrough, Sever) and
the list of contestants, keyed: the one-core set (logging off and on), the variants with
a TLS upstream, and the two-core scaling set."""

import hashlib
import signal

from .common import BOTH_CPUS, TARGET, TOKEN
from .procs import Contestant, free_port


def nginx_conf(workdir, port, upstream, access_log, workers=1, tls=False):
    log_line = f"access_log {workdir}/nginx-access.log;" if access_log else "access_log off;"
    # TLS to the upstream: the vendor's self-signed certificate is not verified (nginx's
    # default) and sessions are resumed on new connections (also the default, stated).
    tls_lines = ("\n            proxy_ssl_session_reuse on;"
                 "\n            proxy_ssl_verify off;") if tls else ""
    return f"""# nginx proxy_pass with upstream keepalive; {workers} worker(s).
worker_processes {workers};
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 30000; }}
http {{
    {log_line}
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    keepalive_requests 1000000;
    upstream vendor {{
        server 127.0.0.1:{upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass {'https' if tls else 'http'}://vendor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";{tls_lines}
        }}
    }}
}}
"""


def haproxy_conf(port, upstream, logging, max_conns, threads=1, tls=False):
    log_lines = ("    log stdout format raw local0\n" if logging else "")
    http_log = "    option httplog\n    log global\n" if logging else ""
    ssl = " ssl verify none" if tls else ""
    return f"""# HAProxy in HTTP mode, {threads} thread(s), server-side keep-alive.
global
    nbthread {threads}
    # HAProxy reserves two descriptors per connection; idle client connections need one.
    no strict-limits
    maxconn {max_conns}
{log_lines}defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
{http_log}frontend api
    bind 127.0.0.1:{port}
    default_backend vendor
backend vendor
    server upstream 127.0.0.1:{upstream} maxconn 1000{ssl}
"""


def sever_conf(workdir, port, upstream, auth, audit, plugins=("cedalo",), scheme="http",
               read_buffer=None):
    lines = [
        "# Sever: the cedalo adapter translates every request.",
        "server:",
        f'  listen: "127.0.0.1:{port}"',
        "  request_timeout_ms: 5000",
        "  shutdown_grace_ms: 1000",
    ]
    if not auth:
        lines.append("  insecure_no_auth: true")
    if read_buffer:
        lines.append(f"  read_buffer_bytes: {read_buffer}")
    lines.append("plugins:")
    lines += [f"  - path: {TARGET / ('libsever_' + p + '.so')}" for p in plugins]
    if auth:
        token_sha = hashlib.sha256(TOKEN.encode()).hexdigest()
        lines += [
            "auth:",
            "  tokens:",
            "    - name: bench",
            f'      token_sha256: "{token_sha}"',
            '      allow: [{ backends: ["*"], actions: ["disconnect"] }]',
        ]
    if audit:
        lines += ["audit:", f'  path: "{workdir}/audit.jsonl"']
    lines += [
        "backends:",
        "  mqtt:",
        "    plugin: cedalo",
        f'    url: "{scheme}://127.0.0.1:{upstream}"',
        "    timeout_ms: 2000",
        "    settings:",
        '      project_id: "p1"',
        '      broker_id: "b1"',
        '      token: "vendor-token"',
    ]
    return "\n".join(lines) + "\n"


# server.read_buffer_bytes settings the `buffers` section compares (1024: the default).
BUFFER_SIZES = [256, 1024, 4096]


def make_contestants(workdir, upstream_port, tls_port, ca_file, max_conns):
    """Every contestant, keyed; the direct upstream has no process of its own.

    `tls_port` is the HTTPS upstream's; `ca_file` the CA that signed its certificate, which
    Sever trusts through `SSL_CERT_FILE` (it has no per-backend CA setting)."""
    made = {}

    def add(key, name, logging, argv_fn, conf_name=None, conf_fn=None, **kw):
        port = free_port()
        text = None
        if conf_fn:
            text = conf_fn(port)
            (workdir / conf_name).write_text(text)
        made[key] = Contestant(key, name, logging, argv_fn(port), port, workdir,
                               config_text=text, **kw)

    def nginx(key, logging, workers=1, tls=False, **kw):
        up = tls_port if tls else upstream_port
        add(key, "nginx proxy_pass", logging,
            lambda p: ["nginx", "-c", str(workdir / f"{key}.conf"), "-p", str(workdir)],
            f"{key}.conf", lambda p: nginx_conf(workdir, p, up, logging, workers, tls),
            stop_signal=signal.SIGTERM, upstream="tls" if tls else "plain", **kw)

    def haproxy(key, logging, threads=1, tls=False, **kw):
        up = tls_port if tls else upstream_port
        add(key, "HAProxy", logging,
            lambda p: ["haproxy", "-db", "-f", str(workdir / f"{key}.cfg")],
            f"{key}.cfg", lambda p: haproxy_conf(p, up, logging, max_conns, threads, tls),
            stop_signal=signal.SIGTERM,
            stdout=str(workdir / "haproxy-access.log") if logging else None,
            upstream="tls" if tls else "plain", **kw)

    def sever(key, name, auth, audit, tls=False, env=None, read_buffer=None, **kw):
        up = tls_port if tls else upstream_port
        env = dict(env or {}, **({"SSL_CERT_FILE": str(ca_file)} if tls else {}))
        add(key, name, audit,
            lambda p: [str(TARGET / "sever"), "--log-format", "json", "serve",
                       "--config", str(workdir / f"{key}.yaml")],
            f"{key}.yaml",
            lambda p: sever_conf(workdir, p, up, auth, audit,
                                 scheme="https" if tls else "http", read_buffer=read_buffer),
            stop_signal=signal.SIGINT, ready_path="/readyz", env=env,
            upstream="tls" if tls else "plain", **kw)

    def passthrough(key, tls=False, threads=None, **kw):
        up = tls_port if tls else upstream_port
        add(key, "pingora passthrough", False,
            lambda p: [str(TARGET / "sever-bench-passthrough"), f"127.0.0.1:{p}",
                       f"127.0.0.1:{up}"] + (["tls"] if tls else []),
            stop_signal=signal.SIGINT, upstream="tls" if tls else "plain",
            env={"SEVER_BENCH_THREADS": str(threads)} if threads else None, **kw)

    for logging in (False, True):
        suffix = "-log" if logging else ""
        nginx("nginx" + suffix, logging)
        haproxy("haproxy" + suffix, logging)
        # Logging off also means no per-request `canonical request` line on stderr.
        sever("sever" + suffix, "Sever (cedalo)", logging, logging,
              env={"RUST_LOG": "info" if logging else "warn"})
    # Tier 1 as the issue states it: auth, metrics, translating every request; no audit
    # log and no per-request log line (the passthrough logs nothing either).
    sever("sever-auth", "Sever (cedalo) with auth", True, False, env={"RUST_LOG": "warn"})
    passthrough("passthrough")
    # The floor: a minimal tokio proxy of the same exchange (benches/load/floor.rs).
    add("floor", "tokio floor (minimal proxy)", False,
        lambda p: [str(TARGET / "sever-bench-floor"), f"127.0.0.1:{p}",
                   f"127.0.0.1:{upstream_port}"],
        stop_signal=signal.SIGTERM)

    # HTTPS to the upstream, logging off.
    nginx("nginx-tls", False, tls=True)
    haproxy("haproxy-tls", False, tls=True)
    passthrough("passthrough-tls", tls=True)
    sever("sever-auth-tls", "Sever (cedalo) with auth", True, False, tls=True,
          env={"RUST_LOG": "warn"})

    # Two workers on two cores, logging off. Sever sizes its runtime from the CPUs it may
    # run on (std::thread::available_parallelism), so taskset alone gives it two threads.
    nginx("nginx-2", False, workers=2, cpus=BOTH_CPUS)
    haproxy("haproxy-2", False, threads=2, cpus=BOTH_CPUS)
    passthrough("passthrough-2", threads=2, cpus=BOTH_CPUS)
    sever("sever-auth-2", "Sever (cedalo) with auth", True, False, env={"RUST_LOG": "warn"},
          cpus=BOTH_CPUS)
    # The read buffer each request head is first read into (server.read_buffer_bytes):
    # idle memory against CPU per request.
    for size in BUFFER_SIZES:
        sever(f"sever-auth-buf{size}", f"Sever (cedalo) with auth, read_buffer_bytes {size}",
              True, False, env={"RUST_LOG": "warn"}, read_buffer=size)
    return made
