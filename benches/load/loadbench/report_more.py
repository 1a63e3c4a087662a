"""The report's newer tables: upstream connections, syscalls per request, the TLS
upstream, two-core scaling, and the issue's targets with met / not met."""

from .common import BOTH_CPUS
from .syscalls import GROUPS, grouped
from .upstream_conns import per_10k
from .util import fmt_table, med, not_measured, verdict

ONE_CORE = ["direct", "nginx", "haproxy", "passthrough", "floor", "sever", "sever-auth"]
TLS_KEYS = ["nginx-tls", "haproxy-tls", "passthrough-tls", "sever-auth-tls"]
SCALE_KEYS = ["nginx-2", "haproxy-2", "passthrough-2", "sever-auth-2"]


def versus_nginx(label, sever, nginx):
    """The line comparing Sever with auth to nginx in one table's samples."""
    return (f"- Sever with auth/nginx {label}: req/s "
            f"{med(sever, 'rps') / med(nginx, 'rps'):.2f}×, CPU per request "
            f"{med(sever, 'cpu_us') / med(nginx, 'cpu_us'):.2f}×.")


def name_of(contestants, k):
    c = contestants.get(k)
    return c.name if c else "direct (upstream alone)"


def conns_section(contestants, tp):
    lines = ["## Upstream connections", "",
             "Connections the upstream accepted during the measured throughput samples "
             "(logging off; `GET /__bench/accepts` asked on the upstream's port before and "
             "after each sample, the asking connections not counted), per 10,000 requests, "
             "and the reuse share 1 − connections/requests. wrk itself opens its "
             "connections anew for each sample, so *direct* shows the client's own count. "
             "*from start*: the same count from the contestant's start, warm-up included "
             "(its pool filling up), the largest over rounds.",
             ""]
    keys = [k for k in ONE_CORE if tp.get(k)]
    if not keys:
        return lines + [not_measured("conns"), ""]
    rows = []
    for k in keys:
        per, reuse = per_10k(tp[k])
        rows.append([name_of(contestants, k), sum(s["upstream_conns"] for s in tp[k]),
                     max(s["upstream_conns_cold"] for s in tp[k]),
                     f"{sum(s['requests'] for s in tp[k]):,}", f"{per:.2f}",
                     f"{reuse:.4%}"])
    lines.append(fmt_table(["contestant", "upstream connections", "from start (max)",
                            "requests",
                            "per 10,000 requests", "reuse"], rows))
    return lines + [""]


def syscalls_section(args, contestants, sc):
    lines = ["## Syscalls per request", "",
             f"`strace -c -f -p PID` attached to the server (every thread; nginx: master and "
             f"worker; *direct*: the upstream) during one {args.strace_secs} s wrk run "
             f"({args.connections} connections) after a {args.warmup} s warm-up; counts over "
             "the requests wrk completed. strace slows the server several-fold, so only the "
             "counts mean anything. The upstream's syscalls are not counted for the proxies.",
             ""]
    if not sc:
        return lines + [not_measured("syscalls"), ""]
    rows = []
    for k in ONE_CORE:
        if k not in sc:
            continue
        g = grouped(sc[k])
        rows.append([name_of(contestants, k), f"{sc[k]['requests']:,}", f"{g['total']:.2f}"]
                    + [f"{g[label]:.2f}" for label, _ in GROUPS]
                    + [f"{g['other']:.2f}",
                       ", ".join(f"{n} {v:.2f}" for n, v in g["other_top"]) or "–",
                       sc[k]["threads"]])
    lines.append(fmt_table(["contestant", "requests", "total"] + [lb for lb, _ in GROUPS]
                           + ["other", "largest others", "threads traced"], rows))
    lines += ["", "Groups: " + "; ".join(f"*{lb}* = {', '.join(sorted(n))}"
                                         for lb, n in GROUPS) + ".", ""]
    return lines


def tls_section(args, contestants, tp, tls):
    lines = ["## HTTPS to the upstream", "",
             "The same upstream program serving HTTPS (`--tls`, rustls, ECDSA P-256 "
             "certificate signed by a throw-away CA made with `openssl` for this run), "
             "logging off, same wrk load as the one-core throughput. nginx "
             "`proxy_pass https://` with `proxy_ssl_session_reuse on` and upstream keepalive; "
             "HAProxy `ssl verify none`; the passthrough `HttpPeer::new(addr, true, "
             "\"localhost\")` with `verify_cert = false`; Sever `url: https://127.0.0.1:PORT`, "
             "verifying the certificate against the CA given in `SSL_CERT_FILE` (Sever has no "
             "per-backend CA setting; pingora's connector reads the platform roots, which "
             "honour that variable). *TLS handshakes* = connections the HTTPS upstream "
             f"accepted per 10,000 requests during the measured run; *from start* includes the "
             f"warm-up (largest over rounds). {args.tls_rounds} round(s), medians.", ""]
    if not tls:
        return lines + [not_measured("tls"), ""]
    rows = []
    for k in TLS_KEYS:
        s = tls[k]
        plain = tp.get(k.replace("-tls", ""))
        per, reuse = per_10k(s)
        cold = max(x["upstream_conns_cold"] for x in s)
        vs = (f"{med(s, 'rps') / med(plain, 'rps'):.2f}× / "
              f"{med(s, 'cpu_us') / med(plain, 'cpu_us'):.2f}×") if plain else "–"
        rows.append([name_of(contestants, k), f"{med(s, 'rps'):,.0f}",
                     f"{med(s, 'p99') / 1000:.2f}", f"{med(s, 'cpu_us'):.1f}",
                     f"{med(s, 'upstream_cpu_us'):.1f}", f"{per:.2f}", cold, vs,
                     sum(x["errors"] for x in s),
                     f"{max(x['noise'] for x in s):.0%} / {sum(x['retried'] for x in s)}"])
    lines.append(fmt_table(["contestant", "req/s", "p99 ms", "CPU µs/req",
                            "upstream CPU µs/req", "TLS handshakes per 10,000 req",
                            "handshakes from start",
                            "req/s / CPU vs plain upstream", "errors",
                            "other load / retried"], rows))
    return lines + ["", versus_nginx("over HTTPS", tls["sever-auth-tls"], tls["nginx-tls"]), ""]


def scaling_section(args, contestants, tp, scaling):
    lines = ["## Two cores", "",
             f"Two workers on two cores: nginx `worker_processes 2`, HAProxy `nbthread 2`, "
             f"the passthrough with `threads: 2` (`SEVER_BENCH_THREADS=2`), Sever as it is "
             f"(its runtime has one thread per CPU it may use: two under `taskset -c "
             f"{BOTH_CPUS}`). Server, upstream and wrk (2 threads, {args.scale_connections} "
             f"connections) all on CPUs {BOTH_CPUS}: **the load generator and the upstream "
             "share the two cores with the server**, so req/s is the whole machine's "
             "throughput, not the server's alone. *vs one core*: req/s over the same "
             f"contestant's one-core median. {args.scale_rounds} round(s), medians.", ""]
    if not scaling:
        return lines + [not_measured("scaling"), ""]
    rows = []
    for k in SCALE_KEYS:
        s = scaling[k]
        one = tp.get(k.replace("-2", ""))
        rows.append([name_of(contestants, k), f"{med(s, 'rps'):,.0f}",
                     f"{med(s, 'p99') / 1000:.2f}", f"{med(s, 'cpu_us'):.1f}",
                     f"{med(s, 'upstream_cpu_us'):.1f}",
                     f"{med(s, 'rps') / med(one, 'rps'):.2f}×" if one else "–",
                     sum(x["errors"] for x in s),
                     f"{max(x['noise'] for x in s):.0%} / {sum(x['retried'] for x in s)}"])
    lines.append(fmt_table(["contestant", "req/s", "p99 ms", "CPU µs/req",
                            "upstream CPU µs/req", "vs one core", "errors",
                            "other load / retried"], rows))
    return lines + ["", versus_nginx("on two cores", scaling["sever-auth-2"], scaling["nginx-2"]), ""]


def targets_section(args, results):
    tp, lat, idle = results.get("tp", {}), results.get("lat"), results.get("idle")
    rows = []

    def row(target, measured, ok):
        if isinstance(ok, str):
            rows.append([target, measured, ok])
        else:
            rows.append([target, measured, verdict(ok) if ok is not None else "not measured"])

    if idle:
        mib = idle["sever"]["idle_kib"] / 1024
        note = "" if args.idle_conns == 10_000 else \
            f" (with {args.idle_conns:,} connections, not 10,000)"
        row("Sever RSS with 10,000 idle connections ≤ 100 MiB", f"{mib:.1f} MiB{note}",
            mib <= 100 and args.idle_conns >= 10_000)
    else:
        row("Sever RSS with 10,000 idle connections ≤ 100 MiB", "–", None)
    if tp.get("sever-auth"):
        _, reuse = per_10k(tp["sever-auth"])
        row("Sever upstream connection reuse ≥ 99.9 %", f"{reuse:.4%}", reuse >= 0.999)
    else:
        row("Sever upstream connection reuse ≥ 99.9 %", "–", None)
    if tp.get("sever-auth") and tp.get("nginx"):
        sv, ng = tp["sever-auth"], tp["nginx"]
        cpu = med(sv, "cpu_us") / med(ng, "cpu_us")
        rps = med(sv, "rps") / med(ng, "rps")
        row("Sever with auth ≤ 1.5× nginx CPU per request", f"{cpu:.2f}×", cpu <= 1.5)
        row("Sever with auth ≥ 0.7× nginx req/s", f"{rps:.2f}×", rps >= 0.7)
        if tp.get("floor"):
            fl = med(tp["floor"], "cpu_us") / med(ng, "cpu_us")
            row("(for reference) the tokio floor's CPU per request over nginx's", f"{fl:.2f}×",
                "reference, no target")
    else:
        row("Sever with auth ≤ 1.5× nginx CPU per request", "–", None)
        row("Sever with auth ≥ 0.7× nginx req/s", "–", None)
    if tp.get("sever-auth") and tp.get("passthrough"):
        cpu = med(tp["sever-auth"], "cpu_us") / med(tp["passthrough"], "cpu_us")
        row("Tier 1: Sever with auth ≤ 1.1× passthrough CPU per request", f"{cpu:.2f}×",
            cpu <= 1.1)
    else:
        row("Tier 1: Sever with auth ≤ 1.1× passthrough CPU per request", "–", None)
    if lat:
        added = (med(lat["sever-log"], "p99_us") - med(lat["direct"], "p99_us")) / 1000
        row(f"p99 added latency at {args.rate:,} req/s with auth and audit ≤ 1 ms",
            f"{added:.3f} ms", added <= 1)
    else:
        row(f"p99 added latency at {args.rate:,} req/s with auth and audit ≤ 1 ms", "–",
            None)
    return ["## Targets", "",
            "The issue's targets, computed from the tables below (one-core, logging off "
            "unless stated).", "", fmt_table(["target", "measured", "verdict"], rows), ""]


def buffers_section(args, contestants, buffers):
    """Sever with auth at each server.read_buffer_bytes: CPU per request and idle RSS."""
    lines = ["## Read buffer size (`server.read_buffer_bytes`)", "",
             "Sever with bearer-token auth, logging off, at each setting: throughput samples "
             f"as above ({args.buffer_rounds} rounds, medians) and RSS with "
             f"{args.idle_conns:,} idle keep-alive connections as in the memory table. The "
             "canonical request's head is 245 bytes here, so 256 bytes reads it whole.", ""]
    if not buffers:
        return lines + [not_measured("buffers"), ""]
    rows = []
    for k, tp in buffers["tp"].items():
        idle = buffers["idle"][k]
        per = (idle["idle_kib"] - idle["before_kib"]) / args.idle_conns
        rows.append([name_of(contestants, k), f"{med(tp, 'rps'):,.0f}",
                     f"{med(tp, 'cpu_us'):.1f}", f"{idle['idle_kib'] / 1024:.1f}",
                     f"{per:.2f}"])
    lines.append(fmt_table(["contestant", "req/s", "CPU µs/req", "RSS with idle conns MiB",
                            "KiB per connection"], rows))
    return lines + [""]
