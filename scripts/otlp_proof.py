#!/usr/bin/env python3
"""Proof against a real OTLP/HTTP receiver built from the official protocol
definitions (the `opentelemetry-proto` package from PyPI, which ships the
generated protobuf classes; `.ci/run` installs it in a virtual environment).

Usage: otlp_proof.py AGENT_BINARY MCP_SERVER_BINARY

Both binaries are built with `--features otel` (MCP_SERVER also `rmcp`).
The receiver accepts `POST /v1/metrics` and `/v1/traces`, decodes every
request, and the checks are:

1. `agent --otlp URL --json --serve ADDR`: the last export's sums equal the
   calls the agent made (its JSON), the `gen_ai.execute_tool.duration`
   histogram's count and bucket counts equal the monitor's own (its
   Prometheus exposition, served after the last export), attribute names
   and values are exactly the conventions', and every tool call is one
   span `execute_tool <tool>` whose parent is the agent's `agent.step`.
2. An agent that exits right after its calls, with a 60 s export interval,
   delivered them all (the export at shutdown).
3. `mcp_server --otlp URL` driven over stdio: `gen_ai.tool.call.id` is the
   JSON-RPC id, an `isError` result is `error.type = tool_error`, and the
   numbers arrive when the client closes the session.
4. Bad configuration (unreachable endpoint, malformed header variable, a
   receiver that answers 500, one that hangs): the agent's calls and report
   are unaffected, the failure is logged once, and the process exits within
   the documented bound.

Every wait is bounded; every process is stopped; nothing is left running.
"""
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# Agent runs are small: their spans fit the SDK's batch queue (2048).
CALLS = 300
# What the exporter's shutdown may take with a collector that hangs: two
# export timeouts of 2 s (one in flight, the last), within the SDK's 5 s.
SHUTDOWN_BOUND_SECONDS = 5.0
MONITOR_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An OTLP/HTTP receiver; `mode` is "ok", "500" or "hang"."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.metrics = []  # ExportMetricsServiceRequest, in arrival order
        self.traces = []  # ExportTraceServiceRequest
        self.requests = 0
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests += 1
                if receiver.mode == "hang":
                    receiver.release.wait(30)
                    return
                if receiver.mode == "500":
                    self.send_response(500)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                assert self.headers.get("content-type") == "application/x-protobuf", self.headers
                if self.path == "/v1/metrics":
                    request = metrics_service_pb2.ExportMetricsServiceRequest()
                    request.ParseFromString(body)
                    receiver.metrics.append(request)
                    answer = metrics_service_pb2.ExportMetricsServiceResponse()
                elif self.path == "/v1/traces":
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver.traces.append(request)
                    answer = trace_service_pb2.ExportTraceServiceResponse()
                else:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                data = answer.SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def last_metrics(self):
        """name -> list of (attributes dict, point) of the last export."""
        assert self.metrics, "no metrics were exported"
        out = {}
        for rm in self.metrics[-1].resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    points = getattr(metric, kind).data_points
                    out[metric.name] = (metric, [(attrs(p.attributes), p) for p in points])
        return out

    def resource(self):
        return attrs(self.metrics[-1].resource_metrics[0].resource.attributes)

    def spans(self):
        out = []
        for request in self.traces:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    out.extend(ss.spans)
        return out


def attrs(key_values):
    out = {}
    for kv in key_values:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def run(cmd, env=None, timeout=120):
    started = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    return proc, time.monotonic() - started


def agent_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra or {})
    return env


def agent_json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def check_metrics(receiver, stats, buckets_by_tool=None):
    metrics = receiver.last_metrics()
    assert set(metrics) >= {
        "gen_ai.execute_tool.duration",
        "tool_monitor.executions",
        "tool_monitor.errors",
        "tool_monitor.input.size",
        "tool_monitor.output.size",
    }, sorted(metrics)
    duration, points = metrics["gen_ai.execute_tool.duration"]
    assert duration.unit == "s", duration.unit
    histogram = {}
    for attributes, point in points:
        assert set(attributes) == {"gen_ai.tool.name"}, attributes
        assert list(point.explicit_bounds) == MONITOR_BUCKETS_S, point.explicit_bounds
        histogram[attributes["gen_ai.tool.name"]] = point
    executions = {}
    _, points = metrics["tool_monitor.executions"]
    for attributes, point in points:
        assert set(attributes) == {"gen_ai.tool.name", "tool_monitor.status"}, attributes
        tool = attributes["gen_ai.tool.name"]
        executions[tool] = executions.get(tool, 0) + point.as_int
    errors = {}
    _, points = metrics["tool_monitor.errors"]
    for attributes, point in points:
        assert set(attributes) == {"gen_ai.tool.name", "error.type"}, attributes
        assert re.fullmatch(r"[a-z_]+|_OTHER", attributes["error.type"]), attributes
        tool = attributes["gen_ai.tool.name"]
        errors[tool] = errors.get(tool, 0) + point.as_int
    for tool, s in stats.items():
        want = s["total_executions"]
        assert executions.get(tool) == want, (tool, executions.get(tool), want)
        assert histogram[tool].count == want, (tool, histogram[tool].count, want)
        assert sum(histogram[tool].bucket_counts) == want
        assert errors.get(tool, 0) == sum(s["error_distribution"].values()), (tool, errors, s)
        # The sum is the monitor's total duration (avg * count), in seconds.
        want_sum = s["avg_duration_ms"] * want / 1000.0
        assert abs(histogram[tool].sum - want_sum) <= 1e-6 + 1e-6 * want_sum, (
            tool, histogram[tool].sum, want_sum)
        if buckets_by_tool is not None:
            assert list(histogram[tool].bucket_counts) == buckets_by_tool[tool], (
                tool, list(histogram[tool].bucket_counts), buckets_by_tool[tool])
    assert set(executions) == set(stats), (sorted(executions), sorted(stats))
    return sum(executions.values())


def prometheus_buckets(text):
    """tool -> per-bucket (not cumulative) counts, from the exposition."""
    cumulative = {}
    for line in text.splitlines():
        m = re.match(r'tool_execution_duration_seconds_bucket\{tool="([^"]*)",le="([^"]+)"\} (\d+)', line)
        if m:
            cumulative.setdefault(m.group(1), []).append(int(m.group(3)))
    out = {}
    for tool, counts in cumulative.items():
        out[tool] = [c - (counts[i - 1] if i else 0) for i, c in enumerate(counts)]
    return out


def check_agent_spans(receiver, stats):
    spans = receiver.spans()
    by_id = {s.span_id: s for s in spans}
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    want = sum(s["total_executions"] for s in stats.values())
    assert len(tools) == want, (len(tools), want)
    failed = 0
    for span in tools:
        a = attrs(span.attributes)
        tool = span.name[len("execute_tool "):]
        assert span.kind == trace_pb2.Span.SPAN_KIND_INTERNAL, span.kind
        assert a["gen_ai.operation.name"] == "execute_tool", a
        assert a["gen_ai.tool.name"] == tool, a
        assert tool in stats, tool
        allowed = {"gen_ai.operation.name", "gen_ai.tool.name", "error.type", "gen_ai.tool.call.id"}
        extra = set(a) - allowed - {
            # What tracing-opentelemetry adds about the code location.
            "code.file.path", "code.module.name", "code.line.number", "thread.id", "thread.name",
            "target", "busy_ns", "idle_ns", "code.filepath", "code.namespace", "code.lineno",
        }
        assert not extra, extra
        parent = by_id.get(span.parent_span_id)
        assert parent is not None and parent.name == "agent.step", (span.name, parent and parent.name)
        assert parent.trace_id == span.trace_id
        if "error.type" in a:
            failed += 1
            assert span.status.code == trace_pb2.Status.STATUS_CODE_ERROR, span.status
    want_failed = sum(s["failed_executions"] for s in stats.values())
    assert failed == want_failed, (failed, want_failed)
    return len(tools)


def main():
    agent, mcp_server = sys.argv[1], sys.argv[2]
    results = {}

    # 1. The numbers and spans of a run, against the monitor's own.
    receiver = Receiver()
    try:
        port = free_port()
        proc = subprocess.Popen(
            [agent, "--calls", str(CALLS), "--json", "--otlp", receiver.url,
             "--serve", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=agent_env({"OTEL_SERVICE_NAME": "otlp-proof-agent"}),
        )
        try:
            # The JSON is printed after the last export, before serving.
            lines = []
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("agent ended: " + proc.stderr.read())
                lines.append(line)
                if line.startswith("}"):
                    break
            stats = json.loads("".join(lines))
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                        exposition = r.read().decode()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(10)
        total = check_metrics(receiver, stats, prometheus_buckets(exposition))
        assert total == CALLS, total
        assert receiver.resource().get("service.name") == "otlp-proof-agent", receiver.resource()
        results["metrics: calls exported"] = total
        results["spans: execute_tool spans under agent.step"] = check_agent_spans(receiver, stats)
    finally:
        receiver.close()

    # 2. A process that exits right after its calls still delivered them.
    receiver = Receiver()
    try:
        proc, took = run([agent, "--calls", "120", "--json", "--otlp", receiver.url],
                         env=agent_env({"OTEL_METRIC_EXPORT_INTERVAL": "60000"}))
        stats = agent_json(proc)
        assert len(receiver.metrics) == 1, len(receiver.metrics)  # only the one at shutdown
        assert check_metrics(receiver, stats) == 120
        results["short-lived process: delivered at exit"] = f"120 calls, 1 export, {took:.1f}s"
    finally:
        receiver.close()

    # 3. The MCP server over stdio: call ids, tool errors, delivery at EOF.
    receiver = Receiver()
    try:
        messages = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "otlp-proof", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
             "params": {"name": "echo", "arguments": {"text": "hello"}}},
            {"jsonrpc": "2.0", "id": "call-8", "method": "tools/call",
             "params": {"name": "fail", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
             "params": {"name": "add", "arguments": {"a": 2, "b": 3}}},
        ]
        proc = subprocess.Popen([mcp_server, "--otlp", receiver.url], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=agent_env())
        answers = {}
        for message in messages:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            if "id" in message:
                answer = json.loads(proc.stdout.readline())
                answers[answer["id"]] = answer
        assert answers["call-8"]["result"]["isError"] is True, answers["call-8"]
        proc.stdin.close()  # the client closes the session
        proc.wait(30)
        assert proc.returncode == 0, proc.stderr.read()
        spans = {s.name: s for s in receiver.spans() if s.name.startswith("execute_tool ")}
        assert set(spans) == {"execute_tool echo", "execute_tool fail", "execute_tool add"}, set(spans)
        echo = attrs(spans["execute_tool echo"].attributes)
        assert echo.get("gen_ai.tool.call.id") == "7", echo
        assert "error.type" not in echo, echo
        fail = attrs(spans["execute_tool fail"].attributes)
        assert fail.get("error.type") == "tool_error", fail
        assert spans["execute_tool fail"].status.code == trace_pb2.Status.STATUS_CODE_ERROR
        # Every execute_tool span has a parent: the span rmcp serves in.
        assert all(s.parent_span_id for s in spans.values())
        metrics = receiver.last_metrics()
        calls = {a["gen_ai.tool.name"]: p.count for a, p in metrics["gen_ai.execute_tool.duration"][1]}
        assert calls == {"echo": 1, "fail": 1, "add": 1}, calls
        results["mcp_server: call id, tool_error, delivered at EOF"] = calls
    finally:
        receiver.close()

    # 4. Bad configuration never touches the tools.
    def bad(name, url, env=None):
        proc, took = run([agent, "--calls", "100", "--json", "--otlp", url], env=agent_env(env))
        stats = agent_json(proc)
        assert sum(s["total_executions"] for s in stats.values()) == 100, stats
        return proc.stderr, took

    dead = f"http://127.0.0.1:{free_port()}"
    stderr, took = bad("unreachable", dead)
    assert stderr.count("OTLP export to") == 1, stderr
    assert re.search(r"OTLP metrics: 1 export\(s\), 1 failed", stderr), stderr
    assert took < 2 * SHUTDOWN_BOUND_SECONDS + 2, took
    results["unreachable endpoint"] = f"logged once, exit after {took:.1f}s"

    stderr, took = bad("headers", dead, {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=ok,Bearer s3cret"})
    assert "OTEL_EXPORTER_OTLP_HEADERS" in stderr and "export is off" in stderr, stderr
    assert "s3cret" not in stderr, stderr
    results["malformed OTEL_EXPORTER_OTLP_HEADERS"] = "clear error, export off, calls unaffected"

    for mode in ("500", "hang"):
        receiver = Receiver(mode)
        try:
            stderr, took = bad(mode, receiver.url, {"OTEL_METRIC_EXPORT_INTERVAL": "500"})
            assert stderr.count("OTLP export to") == 1, stderr
            failed = int(re.search(r"OTLP metrics: (\d+) export\(s\), (\d+) failed", stderr).group(2))
            assert failed >= 1, stderr
            assert receiver.requests >= 1
            # The spans' and the metrics' shutdowns, each within the SDK's bound.
            assert took < 2 * SHUTDOWN_BOUND_SECONDS + 2, took
            results[f"receiver {mode}"] = f"{failed} failure(s) counted, logged once, exit after {took:.1f}s"
        finally:
            receiver.close()
    # The agent's own run takes well under a second; what is left is the
    # bounded shutdown of the metrics and the spans exporters.
    print(json.dumps(results, indent=2))
    print("OTLP proof: all checks passed")


if __name__ == "__main__":
    main()
