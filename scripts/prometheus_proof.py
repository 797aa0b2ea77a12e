#!/usr/bin/env python3
"""Proof against a real Prometheus: two processes of the example server are
scraped every second, and Prometheus's sums must equal the calls made.

Usage: prometheus_proof.py SERVER_BINARY CALLS_PER_TOOL

SERVER_BINARY is `examples/tool_server` built by cargo: it makes
CALLS_PER_TOOL calls of each of its tools, prints its tool names as one
JSON line on stdout, and serves /metrics until terminated. Every wait is
bounded, every process is stopped by its pid, nothing is left running.
"""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

DEADLINE_SECONDS = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def query(prom, expr):
    url = f"http://{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(get(url))
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r} failed: {body}")
    return body["data"]["result"]


def wait_until(what, check, seconds):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            ok, last = check()
            if ok:
                return last
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.5)
    raise TimeoutError(f"gave up waiting for {what}; last seen: {last}")


def start_prometheus(prometheus, work, targets):
    """A Prometheus scraping `targets` every second; returns (process, host:port)."""
    prom_port = free_port()
    config = os.path.join(work, "prometheus.yml")
    listed = ", ".join(f"'{t}'" for t in targets)
    with open(config, "w") as f:
        f.write(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: tools\n    static_configs:\n"
            f"      - targets: [{listed}]\n"
        )
    prom_log = open(os.path.join(work, "prometheus.log"), "w")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={os.path.join(work, 'data')}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=prom_log,
        stderr=subprocess.STDOUT,
    )
    return proc, f"127.0.0.1:{prom_port}"


def check_exposition(promtool, exposition):
    """`promtool check metrics` must report nothing."""
    check = subprocess.run([promtool, "check", "metrics"], input=exposition, text=True, capture_output=True)
    problems = (check.stdout + check.stderr).strip()
    if check.returncode != 0 or problems:
        raise RuntimeError(f"promtool check metrics reported:\n{problems}")
    print("promtool check metrics: clean")


def sums_by_tool(prom):
    """`sum by (tool) (tool_executions_total)`, as a dict."""
    return {
        r["metric"].get("tool"): int(float(r["value"][1]))
        for r in query(prom, "sum by (tool) (tool_executions_total)")
    }


def sums_equal(prom, want):
    """Whether Prometheus's sums by tool are `want`, and what they are."""
    got = sums_by_tool(prom)
    return got == want, got


def stop(procs, work):
    """Stops every process (TERM, then KILL after 10 s) and removes `work`."""
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    server, calls = sys.argv[1], int(sys.argv[2])
    prometheus = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if not prometheus or not promtool:
        sys.exit("prometheus and promtool must be installed (Debian package `prometheus`)")

    work = tempfile.mkdtemp(prefix="prom-proof-")
    procs = []
    try:
        ports = [free_port(), free_port()]
        tools = None
        for port in ports:
            proc = subprocess.Popen(
                [server, "--addr", f"127.0.0.1:{port}", "--calls", str(calls)],
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server on port {port} exited: {proc.wait(5)}")
            tools = json.loads(line)["tools"]
        for port in ports:
            wait_until(f"server :{port}", lambda: (get(f"http://127.0.0.1:{port}/healthz") == "ok\n", None), 30)

        check_exposition(promtool, get(f"http://127.0.0.1:{ports[0]}/metrics"))
        proc, prom = start_prometheus(prometheus, work, [f"127.0.0.1:{p}" for p in ports])
        procs.append(proc)
        want = {tool: 2 * calls for tool in tools}
        got = wait_until("Prometheus to scrape both servers", lambda: sums_equal(prom, want), DEADLINE_SECONDS)
        print(f"sum by (tool) (tool_executions_total) = {got} == {want}")

        def p95_is_number():
            result = query(prom, "histogram_quantile(0.95, sum by (le, tool) (tool_execution_duration_seconds_bucket))")
            values = {r["metric"].get("tool"): float(r["value"][1]) for r in result}
            return set(values) == set(tools) and all(math.isfinite(v) for v in values.values()), values

        p95 = wait_until("a p95 per tool", p95_is_number, 30)
        print(f"histogram_quantile(0.95, ...) = {p95}")
        print("prometheus proof: ok (sums equal the calls made; p95 is a number; promtool clean)")
    finally:
        stop(procs, work)

if __name__ == "__main__":
    main()
