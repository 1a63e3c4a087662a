"""The run's sections, each measuring every contestant it concerns in turn. `ctx` holds
the work directory, the contestants, both upstreams, the arguments and the deadline."""

import time

from .common import BOTH_CPUS, PROXY_CPU, log
from .contestants import BUFFER_SIZES
from .procs import repeat_until_quiet
from .report_more import ONE_CORE, SCALE_KEYS, TLS_KEYS
from .samples import Load, idle_sample, pin, rate_sample, startup_samples, throughput_sample
from .syscalls import grouped, syscall_sample

SECTIONS = ["throughput", "conns", "syscalls", "tls", "scaling", "rate", "idle", "buffers",
            "startup"]
TP_KEYS = ONE_CORE + ["nginx-log", "haproxy-log", "sever-log"]
LAT_KEYS = ["direct", "nginx", "haproxy", "passthrough", "sever", "nginx-log", "sever-log"]
IDLE_KEYS = ["direct", "nginx", "haproxy", "passthrough", "sever"]


def tp_rounds(ctx, keys, rounds, label, load=None):
    """Throughput rounds over `keys` (alternating), each sample retried while noisy."""
    args = ctx.args
    out = {k: [] for k in keys}
    for r in range(rounds):
        log(f"{label} round {r + 1}/{rounds}")
        for k in keys:
            c = ctx.contestants.get(k)
            up = ctx.upstreams[c.upstream if c else "plain"]
            s = repeat_until_quiet(
                lambda: throughput_sample(c, ctx.workdir, up, args, load), k,
                args.warmup + args.duration)
            out[k].append(s)
            log(f"  {k:15} {s['rps']:9,.0f} req/s  {s['cpu_us']:6.1f} µs/req  "
                f"p99 {s['p99'] / 1000:.2f} ms  upstream conns {s['upstream_conns']}  "
                f"errors {s['errors']}  noise {s['noise']:.0%}")
        if time.monotonic() > ctx.deadline:
            log("time budget spent: no more rounds")
            break
    return out


def throughput(ctx, only):
    """One-core throughput; with only `conns` asked for, the logging-off set alone (the
    upstream connection counts come from these samples)."""
    keys = TP_KEYS if "throughput" in only else ONE_CORE
    return tp_rounds(ctx, keys, ctx.args.rounds, "throughput")


def syscalls(ctx):
    out = {}
    log(f"syscalls per request (strace, {ctx.args.strace_secs} s each)")
    for k in ONE_CORE:
        c = ctx.contestants.get(k)
        out[k] = syscall_sample(c, ctx.workdir, ctx.upstreams["plain"], ctx.args)
        g = grouped(out[k])
        log(f"  {k:15} {g['total']:6.2f} syscalls/req  ({out[k]['requests']} requests, "
            f"threads {out[k]['threads']})")
    return out


def tls(ctx):
    return tp_rounds(ctx, TLS_KEYS, ctx.args.tls_rounds, "HTTPS upstream")


def scaling(ctx):
    """Two cores: the upstream moves to both CPUs for the round, and back after."""
    up = ctx.upstreams["plain"]
    pin(up.proc.pid, BOTH_CPUS)
    try:
        load = Load(ctx.args.scale_connections, BOTH_CPUS, threads=2)
        return tp_rounds(ctx, SCALE_KEYS, ctx.args.scale_rounds, "two cores", load)
    finally:
        pin(up.proc.pid, PROXY_CPU)


def rate(ctx):
    args = ctx.args
    lat = {k: [] for k in LAT_KEYS}
    for r in range(args.lat_rounds):
        log(f"fixed-rate latency round {r + 1}")
        for k in LAT_KEYS:
            c = ctx.contestants.get(k)
            s = repeat_until_quiet(lambda: rate_sample(c, ctx.upstreams["plain"], args), k,
                                   args.rate_secs + 1)
            lat[k].append(s)
            log(f"  {k:15} p50 {s['p50_us']} µs  p99 {s['p99_us']} µs  "
                f"p99.9 {s['p999_us']} µs  ({s['requests']} requests, "
                f"{s['other_status'] + s['errors']} errors)  noise {s['noise']:.0%}")
    return lat


def idle_rss(ctx, keys):
    """RSS before and with the idle connections, for each of `keys` in turn."""
    out = {}
    for k in keys:
        out[k] = idle_sample(ctx.contestants.get(k), ctx.upstreams["plain"],
                             ctx.args.idle_conns, 30)
        log(f"  {k:20} {out[k]['before_kib'] / 1024:.1f} → "
            f"{out[k]['idle_kib'] / 1024:.1f} MiB")
    return out


def idle(ctx):
    log(f"{ctx.args.idle_conns} idle connections")
    return idle_rss(ctx, IDLE_KEYS)


def buffers(ctx):
    """Sever with auth at each `server.read_buffer_bytes`: throughput rounds (CPU per
    request) and RSS with the idle connections."""
    keys = [f"sever-auth-buf{n}" for n in BUFFER_SIZES]
    tp = tp_rounds(ctx, keys, ctx.args.buffer_rounds, "read buffer sizes")
    log(f"{ctx.args.idle_conns} idle connections at each read buffer size")
    return {"tp": tp, "idle": idle_rss(ctx, keys)}


def startup(ctx):
    log("start-up")
    times = startup_samples(ctx.workdir, ctx.upstreams["plain"].port, 3 if ctx.args.quick else 5)
    log(f"  {', '.join(f'{t:.0f}' for t in times[0])} ms")
    return times


def planned_seconds(args, only):
    """Measurement time the selected sections plan (slack for noise comes on top)."""
    sample = args.warmup + args.duration + 1
    total = 10
    if "throughput" in only or "conns" in only:
        total += args.rounds * (len(TP_KEYS) if "throughput" in only else len(ONE_CORE)) \
            * sample
    if "syscalls" in only:
        total += len(ONE_CORE) * (args.warmup + args.strace_secs + 3)
    if "tls" in only:
        total += args.tls_rounds * len(TLS_KEYS) * sample
    if "scaling" in only:
        total += args.scale_rounds * len(SCALE_KEYS) * sample
    if "rate" in only:
        total += args.lat_rounds * len(LAT_KEYS) * (args.rate_secs + 2)
    if "idle" in only:
        total += len(IDLE_KEYS) * 10
    if "buffers" in only:
        total += len(BUFFER_SIZES) * (args.buffer_rounds * sample + 10)
    return int(total)
