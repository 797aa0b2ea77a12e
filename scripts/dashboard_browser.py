#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's Chromium, headless, driven over
the DevTools protocol (a minimal RFC 6455 WebSocket client below, standard
library only).

Usage:
  dashboard_browser.py test DEMO_BINARY
  dashboard_browser.py screenshot DEMO_BINARY OUT.png

DEMO_BINARY is `examples/dashboard_demo` built by cargo. `test` asserts,
after the page's own scripts ran: the tools and counts it shows, sorting and
filtering, that hostile tool names and error messages render as literal
text and run nothing, that a token-guarded server shows "unauthorized" and
no data until the token is given, and that a phone-width page does not
overflow. `screenshot` saves the populated page at 1280x900. Every wait is
bounded; every process started is stopped.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1280,900",
]
HOSTILE_TOOL = '<img src=x onerror="window.pwned=1">'
HOSTILE_MESSAGE = '<script>window.pwned=2</script><img src=x onerror="window.pwned=3">'


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames."""

    def __init__(self, url):
        assert url.startswith("ws://")
        host_port, path = url[5:].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("websocket closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"websocket handshake refused: {head!r}")

    def send(self, text):
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("websocket closed")
            data += chunk
        return data

    def recv(self):
        message = b""
        while True:
            first, second = self._exact(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if opcode in (0x1, 0x0):
                message += payload
                if first & 0x80:
                    return message.decode()


class Page:
    """One browser tab, driven by DevTools commands."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.js(expression):
                    return
            except RuntimeError:
                pass  # the document is being replaced (a navigation)
            time.sleep(0.1)
        raise TimeoutError(f"gave up waiting for {what} ({expression})")

    def open(self, url):
        """Navigates to `url` and waits until the new document has replaced the old."""
        before = self.js("performance.timeOrigin")
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.wait_for(f"performance.timeOrigin !== {before} && document.readyState !== 'loading'", f"{url} to open")


def start_demo(binary, token=None):
    args = [binary, "--addr", "127.0.0.1:0"] + (["--token", token] if token else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        raise RuntimeError(f"demo server did not start: {line!r}")
    return proc, line.split()[1]


def start_chromium(profile):
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("chromium is not installed (Debian package `chromium`)")
    proc = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while not os.path.exists(port_file) or not open(port_file).read().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    deadline = time.monotonic() + 30
    while True:
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5).read())
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return proc, Page(pages[0]["webSocketDebuggerUrl"])
        if time.monotonic() > deadline:
            raise RuntimeError("chromium has no page target")
        time.sleep(0.1)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}")


def test(page, binary, procs):
    demo, url = start_demo(binary)
    procs.append(demo)
    page.open(url)
    page.wait_for("document.body.dataset.loaded === 'true'", "the dashboard to load")
    tools = page.js("[...document.querySelectorAll('#tools tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
    by_name = {row[0]: row for row in tools}
    check(set(by_name) == {"search", "fetch-url", "parse-amount", "summarize", HOSTILE_TOOL},
          f"the table lists the five tools: {sorted(by_name)}")
    check(by_name["search"][1] == "120" and by_name["search"][2] == "90.0", "search: 120 calls, 90.0 % success")
    check(by_name["fetch-url"][1] == "80" and by_name["fetch-url"][2] == "75.0", "fetch-url: 80 calls, 75.0 % success")
    check(by_name["fetch-url"][8] == "TIMEOUT_ERROR (20)", "fetch-url's top error is TIMEOUT_ERROR (20)")
    check(tools[0][0] == "search", "sorted by calls, most first")

    check(page.js("window.pwned") is None, "no payload ran (window.pwned is unset)")
    check(page.js("document.querySelectorAll('img').length") == 0, "no <img> element was created from data")
    check(page.js("document.scripts.length") == 1, "the only script is dashboard.js")
    errors = page.js("[...document.querySelectorAll('#errors tbody tr')].map(r => r.cells[3] && r.cells[3].textContent)")
    check(HOSTILE_MESSAGE in errors, "the hostile error message is shown as literal text")
    categories = page.js("document.getElementById('categories').textContent")
    check("TIMEOUT_ERROR" in categories and "NETWORK_ERROR" in categories, "the error-category breakdown lists categories")
    check(page.js("document.querySelectorAll('#histogram rect').length") > 0, "the selected tool's histogram is drawn")
    check(page.js("document.querySelectorAll('#trend polyline').length") == 1, "the 7-day trend is drawn")
    check(page.js("document.getElementById('series-figure').hidden") is True, "no hourly series for a live process (404)")

    page.js("document.querySelector('th[data-key=tool_name]').click()")
    first = page.js("document.querySelector('#tools tbody tr').cells[0].textContent")
    check(first == HOSTILE_TOOL, f"sorted by name, ascending ('<' sorts first): {first!r}")
    page.js("const s = document.getElementById('search'); s.value = 'fetch'; s.dispatchEvent(new Event('input'))")
    check(page.js("document.querySelectorAll('#tools tbody tr').length") == 1, "the search box filters the table")
    page.js("const e = document.getElementById('error-tool'); e.value = 'search'; e.dispatchEvent(new Event('change'))")
    shown = page.js("[...document.querySelectorAll('#errors tbody tr')].map(r => r.cells[1].textContent)")
    check(shown and set(shown) == {"search"}, "the errors list filters by tool")

    page.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
    page.open(url)
    page.wait_for("document.body && document.body.dataset.loaded === 'true'", "the dashboard at phone width")
    overflow = page.js("document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 1, f"at 390 px wide the page does not scroll sideways (overflow {overflow} px)")
    page.call("Emulation.clearDeviceMetricsOverride")
    demo.terminate()

    guarded, url = start_demo(binary, token="s3cret")
    procs.append(guarded)
    page.js("sessionStorage.clear()")
    page.open(url)
    page.wait_for("document.getElementById('login') && !document.getElementById('login').hidden", "the token form")
    body = page.js("document.body.innerText")
    check("Unauthorized" in body and "search" not in body, "without the token: 'unauthorized' and no data")
    check(page.js("document.querySelectorAll('#tools tbody tr').length") == 0, "without the token: no rows")
    page.js("document.getElementById('token').value = 's3cret'; document.getElementById('login').requestSubmit()")
    page.wait_for("document.body.dataset.loaded === 'true'", "the data after the token was given")
    check(page.js("document.querySelectorAll('#tools tbody tr').length") == 5, "with the token: the five tools")
    check(page.js("sessionStorage.getItem('tool-monitor-token')") == "s3cret", "the token is kept in sessionStorage")
    print("dashboard browser test: ok")


def screenshot(page, binary, out, procs):
    demo, url = start_demo(binary)
    procs.append(demo)
    page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    page.open(url)
    page.wait_for("document.body.dataset.loaded === 'true'", "the dashboard to load")
    # The slowest tool, selected: its histogram has the most buckets.
    page.js("[...document.querySelectorAll('#tools tbody tr')].find(r => r.cells[0].textContent === 'fetch-url').click()")
    time.sleep(0.5)
    height = page.js("Math.ceil(document.documentElement.scrollHeight)")
    page.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(height, 2000), deviceScaleFactor=1, mobile=False)
    data = page.call("Page.captureScreenshot", format="png")["data"]
    with open(out, "wb") as f:
        f.write(base64.b64decode(data))
    print(f"saved {out}")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("test", "screenshot"):
        sys.exit(__doc__)
    mode, binary = sys.argv[1], sys.argv[2]
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    procs = []
    try:
        chromium, page = start_chromium(profile)
        procs.append(chromium)
        if mode == "test":
            test(page, binary, procs)
        else:
            screenshot(page, binary, sys.argv[3], procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
