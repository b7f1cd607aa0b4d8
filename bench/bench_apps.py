"""Virtual apps: launch-to-first-request latency over ten launches (JVM start included),
plus the same through TLS (CONNECT-less direct HTTPS to the zone responder), and RSS.

Each launch starts a real JVM through the runner; "first request" is the moment the
app's first request has fully arrived at a listening socket set as the handset's proxy.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.virtual.apps.runner import AppRunner, wait_for
from harness.virtual.internet import start_internet
from harness.virtual.spec import load_spec
from harness.virtual.state import HandsetState

LAUNCHES = 10
LOOPBACK = "127.77.251.1"


class _Arrivals:
    """A listening socket that timestamps each complete request head."""

    def __init__(self) -> None:
        self.sock = socket.create_server((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.times: list[float] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            self.times.append(time.perf_counter())
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _state(tls: bool) -> HandsetState:
    spec = load_spec("reference")
    url = "https://api.weather.example/bench" if tls else "http://api.weather.example/bench"
    pkg = spec.packages[0].model_copy(update={"name": "org.bench.app", "behaviours": {
        "sdk": "com.vendor.analytics.Tracker",
        "sends": [{"id": "b", "url": url, "fields": [{"name": "d", "read": "imei", "encoding": "sha256"}]}]}})
    spec = spec.model_copy(update={"packages": [pkg]})
    return HandsetState(spec, device_loopback=LOOPBACK)


def _launches(runner: AppRunner, arrivals: Callable[[], list[float]], rss: list[int]) -> list[float]:
    """arrivals() lists the times of every request seen so far."""
    out = []
    for _ in range(LAUNCHES):
        seen = len(arrivals())
        t0 = time.perf_counter()
        pid = runner.start("org.bench.app")
        if not wait_for(lambda n=seen: len(arrivals()) > n, 60, interval=0.005):
            raise RuntimeError("no request within 60 s")
        out.append(arrivals()[seen] - t0)
        rss.append(_rss_kib(pid))
        runner.stop("org.bench.app")
    return out


def _print(label: str, xs: list[float]) -> None:
    ms = [x * 1000 for x in xs]
    print(f"   {label}: min {min(ms):.0f} ms, median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms "
          f"over {len(ms)} launches")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        internet = start_internet(Path(tmp))
        try:
            rss: list[int] = []
            # Through the proxy (plain HTTP): the socket sees the request.
            state = _state(tls=False)
            sink = _Arrivals()
            state.settings["global"]["http_proxy"] = f"127.0.0.1:{sink.port}"
            runner = AppRunner(state, internet, runtime_dir=Path(tmp) / "plain")
            runner.start("org.bench.app")  # warm-up: builds/loads the cached jar, starts the control channel
            wait_for(lambda: sink.times, 60)
            runner.stop("org.bench.app")
            _print("launch -> first request (HTTP via proxy)", _launches(runner, lambda: sink.times, rss))
            runner.close()
            sink.sock.close()
            # HTTPS directly to the zone responder: JVM start + TLS handshake + response.
            state = _state(tls=True)
            runner = AppRunner(state, internet, runtime_dir=Path(tmp) / "tls")
            log, seen_ok = runner.log_path, []

            def responses() -> list[float]:  # polled every 5 ms: a response logged is timed when seen
                n = log.read_text().count("-> 200") if log.exists() else 0
                seen_ok.extend([time.perf_counter()] * (n - len(seen_ok)))
                return seen_ok

            _print("launch -> first HTTPS response (direct, TLS)", _launches(runner, responses, rss))
            runner.close()
            print(f"   JVM RSS after first request: median {statistics.median(rss) / 1024:.0f} MiB, "
                  f"max {max(rss) / 1024:.0f} MiB")
        finally:
            internet.stop()


if __name__ == "__main__":
    main()
