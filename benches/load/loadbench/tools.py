"""Installing the other contestants and tools, building Sever, and their versions."""

import os
import platform
import shutil
import subprocess
from pathlib import Path

from .common import PLUGINS, ROOT, log

# Debian package and the executable that shows it is installed.
TOOLS = [("nginx", "nginx"), ("haproxy", "haproxy"), ("wrk", "wrk"), ("strace", "strace"),
         ("openssl", "openssl")]


def install_tools():
    missing = [p for p, exe in TOOLS
               if shutil.which(exe) is None and not Path(f"/usr/sbin/{exe}").exists()]
    if not missing:
        return
    log(f"installing from Debian: {' '.join(missing)}")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    # Keep the packages' init scripts from starting system-wide services.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = False
    if os.geteuid() == 0 and not policy.exists():
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        added_policy = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                       + missing, check=True, env=env)
    finally:
        if added_policy:
            policy.unlink()


def build():
    cmd = ["cargo", "build", "--release", "-p", "sever", "-p", "sever-benches", "--bins", "--lib"]
    for p in PLUGINS:
        cmd += ["-p", "sever-" + p.replace("_", "-")]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT)
    return " ".join(cmd)


def versions():
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "machine": f"{os.cpu_count()} × {cpu}, {mem} MiB RAM, Linux {platform.release()}",
        "rustc": first_line(["rustc", "--version"]),
        "nginx": first_line(["nginx", "-v"]),
        "haproxy": first_line(["haproxy", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "strace": first_line(["strace", "-V"]),
        "openssl": first_line(["openssl", "version"]),
    }
