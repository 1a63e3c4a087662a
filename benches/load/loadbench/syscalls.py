"""Syscalls per request: `strace -c -f` attached to the server's processes (for nginx the
master and its worker; every thread of each) during a fixed wrk run. strace slows the
server a lot, so only counts per request are kept, never times or rates."""

import re
import select
import signal
import subprocess
import time

from .common import LOAD_CPU
from .procs import threads
from .samples import Load, run_wrk

# Column groups of the report, in order: (label, syscalls).
GROUPS = [
    ("read/recv", {"read", "readv", "recvfrom", "recvmsg", "recvmmsg"}),
    ("write/send", {"write", "writev", "sendto", "sendmsg", "sendmmsg"}),
    ("epoll_wait", {"epoll_wait", "epoll_pwait", "epoll_pwait2"}),
    ("epoll_ctl", {"epoll_ctl"}),
    ("futex", {"futex"}),
    ("sockopt/name", {"getsockopt", "setsockopt", "getpeername", "getsockname"}),
    ("clock/time", {"clock_gettime", "gettimeofday", "clock_nanosleep"}),
]
# `% time  seconds  usecs/call  calls  [errors]  syscall` (strace 6, `-c`).
ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$")


ATTACHED = re.compile(r"Process \d+ attached(?: with (\d+) threads)?")


def parse_summary(text):
    """{syscall: calls} from strace's `-c` table (the `total` row left out)."""
    counts = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m and m.group(2) != "total":
            counts[m.group(2)] = counts.get(m.group(2), 0) + int(m.group(1))
    return counts


def attach(pids, out_file, timeout=10.0):
    """Starts strace on `pids` (and all their threads) and waits until every thread is
    attached, as strace reports on stderr."""
    want = sum(len(threads(p)) for p in pids)
    cmd = ["strace", "-c", "-f", "-o", str(out_file)]
    for p in pids:
        cmd += ["-p", str(p)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    attached, deadline = 0, time.monotonic() + timeout
    while attached < want and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            # `Process N attached`, or `Process N attached with M threads` (-f on a
            # multi-threaded process).
            m = ATTACHED.search(line)
            if m:
                attached += int(m.group(1) or 1)
    if proc.poll() is not None:
        raise RuntimeError(f"strace exited with {proc.returncode}: {proc.stderr.read()}")
    return proc, attached, want


def syscall_sample(c, workdir, upstream, args):
    """Starts `c`, warms up, counts its syscalls during `args.strace_secs` of wrk."""
    target = c.port if c else upstream.port
    if c:
        c.start()
    try:
        load = Load(args.connections, LOAD_CPU)
        run_wrk(workdir, target, load, args.warmup)
        pids = c.pids() if c else upstream.pids()
        out_file = workdir / f"strace-{c.key if c else 'direct'}.txt"
        proc, attached, want = attach(pids, out_file)
        try:
            result = run_wrk(workdir, target, load, args.strace_secs)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        counts = parse_summary(out_file.read_text())
        n = result["requests"]
        return {"requests": n, "counts": counts, "threads": f"{attached}/{want}",
                "per_request": {k: v / n for k, v in counts.items()}}
    finally:
        if c:
            c.stop()


def grouped(sample):
    """Per request: the total, each of GROUPS, the rest, and the rest's largest names."""
    per = sample["per_request"]
    row = {"total": sum(per.values())}
    rest = dict(per)
    for label, names in GROUPS:
        row[label] = sum(per.get(n, 0) for n in names)
        for n in names:
            rest.pop(n, None)
    row["other"] = sum(rest.values())
    row["other_top"] = sorted(rest.items(), key=lambda kv: -kv[1])[:3]
    return row
