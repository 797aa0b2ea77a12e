#!/usr/bin/env python3
"""Proof against a real Prometheus of `tool-monitor serve`: two writer
processes record into one store and exit; `tool-monitor serve` is the one
target Prometheus scrapes, and its sums must equal the calls both made.

Usage: prometheus_store_proof.py TOOL_SERVER TOOL_MONITOR CALLS_PER_TOOL

TOOL_SERVER is `examples/tool_server` (run with `--store DB --exit`),
TOOL_MONITOR the `tool-monitor` binary. Every wait is bounded, every
process is stopped, nothing is left running.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from prometheus_proof import (
    DEADLINE_SECONDS, check_exposition, free_port, get, start_prometheus, stop, sums_equal, wait_until,
)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tool_server, tool_monitor, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prometheus = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if not prometheus or not promtool:
        sys.exit("prometheus and promtool must be installed (Debian package `prometheus`)")

    work = tempfile.mkdtemp(prefix="prom-store-proof-")
    db = os.path.join(work, "tools.db")
    procs = []
    try:
        tools = None
        for _ in range(2):
            done = subprocess.run(
                [tool_server, "--calls", str(calls), "--store", db, "--exit"],
                capture_output=True, text=True, timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"writer failed: {done.stderr}")
            tools = json.loads(done.stdout.splitlines()[0])["tools"]
        print(f"two writers recorded {calls} calls of each of {tools} into {db} and exited")

        port = free_port()
        procs.append(subprocess.Popen([tool_monitor, "serve", "--db", db, "--addr", f"127.0.0.1:{port}"]))
        wait_until("tool-monitor serve", lambda: (get(f"http://127.0.0.1:{port}/healthz") == "ok\n", None), 30)

        check_exposition(promtool, get(f"http://127.0.0.1:{port}/metrics"))
        proc, prom = start_prometheus(prometheus, work, [f"127.0.0.1:{port}"])
        procs.append(proc)
        want = {tool: 2 * calls for tool in tools}
        got = wait_until("Prometheus to scrape tool-monitor serve", lambda: sums_equal(prom, want), DEADLINE_SECONDS)
        print(f"sum by (tool) (tool_executions_total) = {got} == {want}")
        print("prometheus store proof: ok (one target, the sums of two exited writers)")
    finally:
        stop(procs, work)

if __name__ == "__main__":
    main()
