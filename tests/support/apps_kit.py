"""Helpers for the virtual-app tests (no tests here): a handset state from a small spec,
the virtual internet, a plain listening "proxy" socket, mitmproxy in-process, Frida."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.virtual.apps.runner import AppRunner, wait_for
from harness.virtual.internet import start_internet
from harness.virtual.spec import HandsetSpec
from harness.virtual.state import HandsetState

IMEI = "356938035643809"
BASE_SPEC: dict[str, Any] = {
    "name": "apps-test",
    "build": {"manufacturer": "Vendor", "brand": "vendor", "model": "VX-1", "product": "vx1",
              "device": "vx1", "release": "13", "sdk": 33, "security_patch": "2024-01-05",
              "build_id": "TQ3A.230901.001", "incremental": "123"},
    "identifiers": {"imei": IMEI, "imsi": "310260000000001", "iccid": "8901260000000000019",
                    "phone": "+15555550100", "serial": "VX1SERIAL01", "android_id": "0123456789abcdef",
                    "wifi_mac": "02:11:22:33:44:55", "bt_mac": "02:66:77:88:99:aa",
                    "advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d"},
    "contacts": [{"name": "Alice Canary", "phone": "+15555550111"}],
}
_loopbacks = itertools.count(1)


def make_state(packages: list[dict[str, Any]], sdk: int = 33, loopback: str | None = None) -> HandsetState:
    data = {**BASE_SPEC, "packages": packages}
    data["build"] = {**BASE_SPEC["build"], "sdk": sdk, "release": "14" if sdk >= 34 else "13"}
    # A handset loopback of our own, like the handset assembly gives each handset.
    loopback = loopback or f"127.77.{200 + next(_loopbacks) % 50}.1"
    return HandsetState(HandsetSpec.model_validate(data), device_loopback=loopback)


@pytest.fixture(scope="module")
def internet(tmp_path_factory: pytest.TempPathFactory):
    inet = start_internet(tmp_path_factory.mktemp("internet"))
    yield inet
    inet.stop()


@dataclass
class Captured:
    """One request as a proxy saw it."""
    head: str
    body: bytes

    @property
    def request_line(self) -> str:
        return self.head.split("\r\n", 1)[0]

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
        return None


@dataclass
class PlainProxy:
    """A plain listening socket standing in for a proxy: records what arrives, answers 200
    to absolute-URI requests and closes CONNECTs unanswered (the app's TLS send fails)."""
    host: str
    sock: socket.socket = field(init=False)
    requests: list[Captured] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    _stop: bool = False

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((self.host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(30)
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                text = head.decode("latin-1")
                length = 0
                for line in text.split("\r\n")[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:length], buf[length:]
                self.arrivals.append(time.monotonic())
                self.requests.append(Captured(text, body))
                if text.startswith("CONNECT "):
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except OSError:
            return
        finally:
            conn.close()

    def wait(self, n: int, timeout: float = 30) -> list[Captured]:
        assert wait_for(lambda: len(self.requests) >= n, timeout), f"{len(self.requests)} of {n} requests"
        return list(self.requests)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for c in self._conns:
            c.close()


@pytest.fixture
def apps(internet, tmp_path):
    """make(packages, sdk=33) -> (state, runner); every runner is shut down afterwards.
    Each runner logs to its own runtime dir (tmp_path/apps-N/apps.log)."""
    made: list[AppRunner] = []

    def make(packages: list[dict[str, Any]], sdk: int = 33,
             loopback: str | None = None) -> tuple[HandsetState, AppRunner]:
        state = make_state(packages, sdk, loopback)
        runner = AppRunner(state, internet, runtime_dir=tmp_path / f"apps-{len(made)}")
        made.append(runner)
        return state, runner

    yield make
    for r in made:
        r.close()


@pytest.fixture
def plain_proxy():
    """make(host) -> PlainProxy listening on host (a handset loopback address)."""
    made: list[PlainProxy] = []

    def make(host: str) -> PlainProxy:
        p = PlainProxy(host)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def proxy_to(state: HandsetState, proxy: PlainProxy | Any) -> None:
    """settings put global http_proxy 127.0.0.1:PORT, with the proxy on the handset loopback."""
    state.settings["global"]["http_proxy"] = f"127.0.0.1:{proxy.port}"


def pid_alive(pid: int) -> bool:
    """True while /proc/PID exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Recorder:
    """mitmproxy addon: contained upstream (zone responders) and what the proxy saw."""

    def __init__(self, internet: Any) -> None:
        self.internet = internet
        self.flows: list[Any] = []
        self.tls_failures: list[str] = []

    def server_connect(self, data: Any) -> None:
        host, port = data.server.address
        addr = self.internet.resolve(host, port)
        if addr:
            ip, _, p = addr.rpartition(":")
            data.server.address = (ip, int(p))

    def request(self, flow: Any) -> None:
        self.flows.append(flow)  # the proxy could read the request: TLS was intercepted

    def tls_failed_client(self, data: Any) -> None:
        self.tls_failures.append(data.context.client.sni or "")


class Mitm:
    """mitmdump in-process on 127.x loopback, port 0, in its own thread and loop."""

    def __init__(self, confdir: Path, internet: Any, host: str) -> None:
        from mitmproxy import options
        from mitmproxy.tools.dump import DumpMaster

        self.recorder = Recorder(internet)
        self.master: Any = None
        self.port = 0
        opts = options.Options(listen_host=host, listen_port=0, confdir=str(confdir),
                               ssl_verify_upstream_trusted_ca=str(internet.ca_pem))

        async def main() -> None:
            self.master = DumpMaster(opts, with_termlog=False, with_dumper=False)
            self.master.addons.add(self.recorder)
            await self.master.run()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()

        def listening() -> bool:
            if self.master is None:
                return False
            addrs = self.master.addons.get("proxyserver").listen_addrs()
            if addrs:
                self.port = addrs[0][1]
            return bool(addrs)

        assert wait_for(listening, 30), "mitmproxy did not start"
        assert wait_for((confdir / "mitmproxy-ca-cert.pem").exists, 30)
        time.sleep(0.2)  # written by mitmproxy's own thread
        self.ca_pem = (confdir / "mitmproxy-ca-cert.pem").read_bytes()

    def close(self) -> None:
        if self.master is not None:
            self.master.shutdown()
        self._thread.join(timeout=10)
