"""The measurements themselves: throughput (wrk), fixed-rate latency, idle connections'
memory and start-up time."""

import json
import resource
import signal
import subprocess
import time
from pathlib import Path

from .common import BODY, LOAD_CPU, PLUGINS, TARGET, TICK, TOKEN, sh
from .contestants import sever_conf
from .procs import Contestant, cpu_ticks, free_port, machine_busy_ticks, status_kib
from .upstream_conns import AcceptCounter

WRK_LUA = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {TOKEN}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


class Load:
    """How wrk runs: its CPUs, threads and connections (one core and one thread, or both
    cores shared with the server for the scaling round)."""

    def __init__(self, connections, cpus=LOAD_CPU, threads=1):
        self.connections, self.cpus, self.threads = connections, cpus, threads


def wrk_cmd(workdir, port, load, secs):
    return ["taskset", "-c", load.cpus, "wrk", f"-t{load.threads}", f"-c{load.connections}",
            f"-d{secs}s", "--timeout", "5s", "-s", str(workdir / "post.lua"),
            f"http://127.0.0.1:{port}/v1/actions"]


def run_wrk(workdir, port, load, secs):
    out = sh(wrk_cmd(workdir, port, load, secs))
    return json.loads(out.strip().splitlines()[-1])


def children_cpu_ticks():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * TICK


def measured(fn, pids_fn):
    """Runs fn() and accounts CPU: the server's, and other processes' (noise)."""
    busy0, mine0 = machine_busy_ticks(), cpu_ticks(pids_fn())
    wall0 = time.monotonic()
    result, load_ticks = fn()
    wall = time.monotonic() - wall0
    busy, mine = machine_busy_ticks() - busy0, cpu_ticks(pids_fn()) - mine0
    return result, mine / TICK, max(0.0, (busy - mine - load_ticks) / TICK / wall)


def throughput_sample(c, workdir, upstream, args, load=None):
    """One sample: start the contestant, warm up, measure, stop. `upstream` is the one `c`
    forwards to; the connections it accepted during the measured run are counted."""
    load = load or Load(args.connections)
    target = c.port if c else upstream.port
    counter = AcceptCounter(upstream)
    counter.mark()
    if c:
        c.start()
    try:
        run_wrk(workdir, target, load, args.warmup)
        server_pids = (lambda: c.pids()) if c else (lambda: [])
        counter.mark()
        up0 = cpu_ticks(upstream.pids())

        def run():
            before = children_cpu_ticks()
            r = run_wrk(workdir, target, load, args.duration)
            return r, children_cpu_ticks() - before

        result, cpu, noise = measured(run, server_pids)
        up_cpu = (cpu_ticks(upstream.pids()) - up0) / TICK
        counter.mark()
        noise = max(0.0, noise - up_cpu / (result["duration_us"] / 1e6))
        rss = status_kib(c.pids(), "VmHWM") if c else status_kib(upstream.pids(), "VmHWM")
        errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
        n = result["requests"]
        return {
            "rps": n / (result["duration_us"] / 1e6),
            "requests": n,
            "errors": errors,
            "cpu_us": (cpu if c else up_cpu) / n * 1e6,
            "upstream_cpu_us": up_cpu / n * 1e6,
            "p50": result["p50_us"], "p99": result["p99_us"], "p999": result["p999_us"],
            "rss_kib": rss,
            "noise": noise,
            # Connections the upstream accepted during the measured run, and from the
            # contestant's start (warm-up included: its pool filling up).
            "upstream_conns": counter.since(1),
            "upstream_conns_cold": counter.since(0),
        }
    finally:
        if c:
            c.stop()


def rate_sample(c, upstream, args):
    target = c.port if c else upstream.port
    if c:
        c.start()
    try:
        cmd = ["taskset", "-c", LOAD_CPU, str(TARGET / "sever-bench-client"), "rate",
               f"127.0.0.1:{target}", str(args.rate), str(args.rate_secs),
               str(args.rate_conns), "1", TOKEN, BODY]

        def run():
            before = children_cpu_ticks()
            r = json.loads(sh(cmd).strip().splitlines()[-1])
            return r, children_cpu_ticks() - before

        pids = (lambda: c.pids() + upstream.pids()) if c else upstream.pids
        result, _, noise = measured(run, pids)
        result["noise"] = noise
        return result
    finally:
        if c:
            c.stop()


def idle_sample(c, upstream, count, hold):
    target = c.port if c else upstream.port
    if c:
        c.start()
    pids = c.pids if c else upstream.pids
    try:
        time.sleep(0.3)
        before = status_kib(pids(), "VmRSS")
        client = subprocess.Popen(
            ["taskset", "-c", LOAD_CPU, str(TARGET / "sever-bench-client"), "idle",
             f"127.0.0.1:{target}", str(count), str(hold), TOKEN, BODY],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = client.stdout.readline().strip()
            if line != f"open {count}":
                raise RuntimeError(f"idle client: {line!r} {client.stderr.read()}")
            time.sleep(1)
            with_idle = status_kib(pids(), "VmRSS")
        finally:
            client.terminate()
            client.wait()
        return {"before_kib": before, "idle_kib": with_idle}
    finally:
        if c:
            c.stop()


def startup_samples(workdir, upstream_port, n):
    port = free_port()
    conf = workdir / "sever-all-plugins.yaml"
    conf.write_text(sever_conf(workdir, port, upstream_port, True, True, PLUGINS))
    c = Contestant("sever-startup", "Sever", True,
                   [str(TARGET / "sever"), "--log-format", "json", "serve", "--config",
                    str(conf)], port, workdir, stop_signal=signal.SIGINT, ready_path="/readyz")
    times = []
    for _ in range(n):
        t = c.start()
        c.stop()
        times.append(t * 1000)
    return times, conf.read_text()


def pin(pid, cpus):
    """Moves every thread of a running process to `cpus` (the upstream, for the scaling
    round and back)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True,
                   capture_output=True)


def make_certs(workdir):
    """A throw-away CA and an upstream certificate it signs (for 127.0.0.1 and localhost),
    with the openssl command line. A CA and a leaf rather than one self-signed
    certificate: webpki (Sever's verifier) refuses a CA certificate as the server's own."""
    d = Path(workdir)
    ca_key, ca, key, csr, cert = (d / n for n in
                                  ("ca.key", "ca.pem", "upstream.key", "upstream.csr",
                                   "upstream.pem"))
    ext = d / "upstream.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                   "extendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh(["openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=sever-bench CA"])
    sh(["openssl", "req", *ec, "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost"])
    sh(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)])
    return ca, cert, key
