"""Processes: starting and stopping servers, ports, the /proc CPU and RSS readers, and
the detection of other work on the machine (noise)."""

import os
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

from .common import PROXY_CPU, TICK, Run, log


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_accepting(port, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing accepts on port {port} after {timeout} s")


def http_status(port, path):
    """GET path on a fresh connection; the status, or None when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
            line = s.recv(64).split(b"\r\n", 1)[0].split(b" ")
            return int(line[1]) if len(line) > 1 else None
    except (OSError, ValueError):
        return None


def raise_nofile(want):
    """Raises the open-file limit (inherited by every process started here) as far as
    allowed: to `want` when permitted, else to the hard limit. Returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
        return want
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard


# ------------------------------------------------------------------ /proc accounting


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def threads(pid):
    """Every thread id of process `pid` (strace attaches to threads)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total


def status_kib(pids, key):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def machine_busy_ticks():
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle


# ------------------------------------------------------------------------ noise


def slack_left():
    return max(0.0, Run.slack_budget - Run.slack_spent)


def spend_slack(seconds):
    Run.slack_spent += seconds


def wait_quiet(max_wait=300):
    """Waits (bounded, and never past the run's slack) until the machine has been nearly
    idle for 2 s. Returns the seconds waited."""
    max_wait = min(max_wait, slack_left())
    waited = 0.0
    while True:
        before = machine_busy_ticks()
        time.sleep(2)
        busy = (machine_busy_ticks() - before) / TICK / 2
        if busy < Run.noise_limit:
            return waited
        spend_slack(2)
        if waited >= max_wait:
            log(f"machine still busy ({busy:.0%} of a core) after {max_wait} s; going on")
            return waited
        if waited == 0:
            log(f"machine busy ({busy:.0%} of a core by others); waiting for it to be quiet")
        waited += 2


def repeat_until_quiet(fn, label, sample_secs, retries=2):
    """Takes a sample again (after waiting for a quiet machine) while other processes used
    more than the noise limit of a core during it, at most `retries` times and only while
    the run's slack lasts."""
    for attempt in range(retries + 1):
        started = time.monotonic()
        r = fn()
        if attempt > 0:
            spend_slack(time.monotonic() - started)
        if (r["noise"] <= Run.noise_limit or attempt == retries
                or slack_left() < 2 * sample_secs):
            r["retried"] = attempt
            return r
        log(f"  {label}: {r['noise']:.0%} of a core used by other processes; again")
        wait_quiet(60)
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------ servers


class Contestant:
    """One server under test: how to start it, which pids to account, how to stop it.

    `cpus` is the taskset CPU list it runs on (one core, or both for the scaling round);
    `upstream` names the upstream it forwards to (`plain` or `tls`)."""

    def __init__(self, key, name, logging, argv, port, workdir, config_text=None,
                 stop_signal=signal.SIGTERM, ready_path=None, stdout=None, env=None,
                 cpus=PROXY_CPU, upstream="plain"):
        self.key, self.name, self.logging = key, name, logging
        self.argv, self.port, self.workdir = argv, port, workdir
        self.config_text = config_text
        self.stop_signal = stop_signal
        self.ready_path = ready_path
        self.stdout = stdout
        self.env = env or {}
        self.cpus = cpus
        self.upstream = upstream
        self.proc = None

    def start(self):
        out = open(self.stdout or os.devnull, "ab")
        err = open(self.workdir / f"{self.key}.stderr", "ab")
        self.proc = subprocess.Popen(["taskset", "-c", self.cpus] + self.argv, stdout=out,
                                     stderr=err, cwd=self.workdir, start_new_session=True,
                                     env=dict(os.environ, **self.env))
        started = time.monotonic()
        wait_accepting(self.port, self.proc)
        if self.ready_path:
            deadline = time.monotonic() + 30
            while http_status(self.port, self.ready_path) != 200:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} never became ready")
                time.sleep(0.002)
        return time.monotonic() - started

    def pids(self):
        if self.proc is None:
            return []
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
