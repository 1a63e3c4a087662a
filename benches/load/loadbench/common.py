"""Constants shared by every module, the run's mutable settings and two small helpers."""

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
PLUGINS = ["cedalo", "alibaba_mqtt", "privx", "nexus", "iudx", "rabbitmq"]
TOKEN = "bench-token-0123456789"
BODY = '{"action":"disconnect","backend":"mqtt","target":{"client_id":"c1"}}'
PROXY_CPU = "0"
LOAD_CPU = "1"
# The scaling round: server, upstream and load generator all on these two CPUs.
BOTH_CPUS = "0,1"
TICK = os.sysconf("SC_CLK_TCK")


class Run:
    """Settings of this run that main sets once and the samples read."""

    # Share of one core used by other processes that voids a sample (--ignore-noise: never).
    noise_limit = 0.10
    # Seconds the run may spend waiting for a quiet machine and re-taking noisy samples, on
    # top of the planned measurements (set in main so that the whole run stays within its
    # budget), and the seconds spent so far. A budget, not a deadline: slack not used early
    # in the run is still there for the latency samples at its end.
    slack_budget = float("inf")
    slack_spent = 0.0


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout
