"""Contained mode end to end: zone hosts reach the lab's responders, the record keeps the
world IP (so a CIDR override to a watch-list country applies), other hosts are refused."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import IMEI, Server, TestCA, serve, wait_for

from harness.capture.folder import FLOWS_JSONL
from harness.config.lab import LabConfig
from harness.proxy.master import Proxy

pytestmark = pytest.mark.e2e
ZONE_HOST = "analytics.vendor-cloud.example"
WORLD_IP = "203.0.113.10"
CLOSING_HOST = "sync.vendor-cloud.example"
CLOSING_WORLD_IP = "203.0.113.11"


@pytest.fixture(scope="module")
def responders(workdir: Path, test_ca: TestCA) -> Iterator[tuple[Server, Server]]:
    https = serve("127.0.0.8", test_ca.issue(workdir, [ZONE_HOST, WORLD_IP]))
    plain = serve("127.0.0.9")
    yield https, plain
    https.close()
    plain.close()


class ClosingResponder:
    """An HTTPS/1.1 responder that answers one request per connection, then closes it
    without saying so (no Connection: close), as a server's idle timeout would."""

    def __init__(self, host: str, cert: tuple[Path, Path]) -> None:
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(str(cert[0]), str(cert[1]))
        self.tls.set_alpn_protocols(["http/1.1"])
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, name="closing-responder", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                with self.tls.wrap_socket(conn, server_side=True) as tls:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    if head:
                        tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")
            except (ssl.SSLError, OSError):
                continue

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def closing(workdir: Path, test_ca: TestCA) -> Iterator[ClosingResponder]:
    responder = ClosingResponder("127.0.0.10", test_ca.issue(workdir, [CLOSING_HOST]))
    yield responder
    responder.close()


@pytest.fixture(scope="module")
def proxy(workdir: Path, test_ca: TestCA, canaries_file: Path, responders: tuple[Server, Server],
          closing: ClosingResponder) -> Iterator[Proxy]:
    https, plain = responders
    zone = workdir / "zone.json"
    zone.write_text(json.dumps({
        "version": 1,
        "ca": str(test_ca.cert_path),
        "hosts": {ZONE_HOST: {"world_ip": WORLD_IP,
                              "ports": {"443": f"127.0.0.8:{https.port}", "80": f"127.0.0.9:{plain.port}"}},
                  CLOSING_HOST: {"world_ip": CLOSING_WORLD_IP, "ports": {"443": f"127.0.0.10:{closing.port}"}}},
    }))
    lab = LabConfig.model_validate({
        "name": "contained-lab",
        "jurisdiction": "IN",
        "policy": {"watchlist_countries": ["CN"]},
        "proxy": {"network": "contained", "zone": str(zone)},
        "geo": {"sources": ["overrides", "iptocc", "geoip2fast"],
                "overrides": [{"cidr": "203.0.113.0/24", "country": "CN", "org": "Watch Cloud", "org_country": "CN"}]},
        "state_dir": str(workdir / "state-contained"),
    })
    with Proxy(lab, capture_dir=workdir / "contained", device="serial-2", canaries=canaries_file) as running:
        yield running


def curl(proxy: Proxy, *args: str) -> subprocess.CompletedProcess[str]:
    curl_bin = shutil.which("curl")
    assert curl_bin
    return subprocess.run(
        [curl_bin, "-sS", "--max-time", "20", "-x", proxy.url, "--noproxy", "", "--cacert", str(proxy.ca_cert_path), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )


def flows(proxy: Proxy) -> Path:
    assert proxy.capture_dir is not None
    return proxy.capture_dir / FLOWS_JSONL


def test_zone_host_over_https_is_flagged_by_its_world_ip(proxy: Proxy, responders: tuple[Server, Server]) -> None:
    https, _ = responders
    url = f"https://{ZONE_HOST}/v1/track?imei={IMEI}"
    done = curl(proxy, url)
    assert done.stdout == "ok", done.stderr
    assert https.seen[-1].path == f"/v1/track?imei={IMEI}"
    record = wait_for(flows(proxy), lambda r: r["url"] == url)
    assert (record["server_ip"], record["server_port"]) == (WORLD_IP, 443)
    assert record["connected_ip"] == "127.0.0.8"
    # the client connection: its port and when the proxy accepted it (before the request)
    assert isinstance(record["client_port"], int) and record["client_port"] > 0
    assert record["ts_client_connect"] <= record["ts_start"]
    assert record["country"] == "CN"
    assert record["country_sources"]["overrides"] == "CN"
    assert (record["org"], record["org_country"]) == ("Watch Cloud", "CN")
    assert {"foreign", "watchlist_country", "sensitive_data"} <= set(record["flags"])
    assert record["host"] == ZONE_HOST and record["sni"] == ZONE_HOST


def test_zone_host_over_plain_http(proxy: Proxy, responders: tuple[Server, Server]) -> None:
    _, plain = responders
    url = f"http://{ZONE_HOST}/plain"
    assert curl(proxy, url).stdout == "ok"
    assert plain.seen[-1].headers["Host"] == ZONE_HOST
    record = wait_for(flows(proxy), lambda r: r["url"] == url)
    assert record["server_ip"] == WORLD_IP
    assert {"cleartext", "watchlist_country"} <= set(record["flags"])


def test_world_ip_itself_is_routed(proxy: Proxy) -> None:
    url = f"https://{WORLD_IP}/by-ip"
    assert curl(proxy, url).stdout == "ok"
    record = wait_for(flows(proxy), lambda r: r["url"] == url)
    assert record["server_ip"] == WORLD_IP and record["country"] == "CN"


@pytest.mark.parametrize("url", ["https://exfil.elsewhere.example/upload", "http://198.51.100.20/x"])
def test_host_outside_the_zone_is_refused_and_recorded(proxy: Proxy, responders: tuple[Server, Server], url: str) -> None:
    before = [len(s.seen) for s in responders]
    done = curl(proxy, url)
    assert done.stdout != "ok"
    record = wait_for(flows(proxy), lambda r: "contained" in " ".join(r["notes"]) and (
        r["host"] in url))
    assert record["kind"] == "error"
    assert record["server_ip"] is None or record["server_ip"] == "198.51.100.20"
    assert [len(s.seen) for s in responders] == before


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_keep_alive_client_gets_every_answer(proxy: Proxy, responders: tuple[Server, Server], scheme: str) -> None:
    """One keep-alive client, 12 requests to one zone host: containment's redirect must
    not leave a dead upstream connection per request (mitmproxy allows 5 per address,
    the 6th request would wait forever)."""
    https, plain = responders
    responder = https if scheme == "https" else plain
    conn: http.client.HTTPConnection
    if scheme == "https":
        tls = ssl.create_default_context(cafile=str(proxy.ca_cert_path))
        conn = http.client.HTTPSConnection(proxy.listen_host, proxy.port, timeout=5, context=tls)
        conn.set_tunnel(ZONE_HOST, 443)
    else:
        conn = http.client.HTTPConnection(proxy.listen_host, proxy.port, timeout=5)
    urls = [f"{scheme}://{ZONE_HOST}/keep-alive/{i}" for i in range(12)]
    try:
        for url in urls:
            conn.request("GET", url if scheme == "http" else url.removeprefix(f"https://{ZONE_HOST}"),
                         headers={"Host": ZONE_HOST})
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b"ok"), url
    finally:
        conn.close()
    assert [s.headers["Host"] for s in responder.seen if "/keep-alive/" in s.path][-12:] == [ZONE_HOST] * 12
    for url in urls:
        record = wait_for(flows(proxy), lambda r, url=url: r["url"] == url)
        assert (record["server_ip"], record["server_port"]) == (WORLD_IP, 443 if scheme == "https" else 80)
        assert record["connected_ip"] == responder.host
        assert record["host"] == ZONE_HOST
        if scheme == "https":
            assert record["sni"] == ZONE_HOST


def test_https_tunnel_reconnects_after_the_responder_closed(proxy: Proxy, closing: ClosingResponder) -> None:
    """Inside a CONNECT tunnel mitmproxy takes a request's host from the tunnel's server
    connection, which containment already sent to the responder: when the responder has
    closed it, the next request's new connection is to the responder's own address, and
    must still be routed as the zone host, not refused."""
    tls = ssl.create_default_context(cafile=str(proxy.ca_cert_path))
    conn = http.client.HTTPSConnection(proxy.listen_host, proxy.port, timeout=5, context=tls)
    conn.set_tunnel(CLOSING_HOST, 443)
    paths = [f"/after-close/{i}" for i in range(3)]
    try:
        for path in paths:
            conn.request("GET", path, headers={"Host": CLOSING_HOST})
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b"ok"), path
            time.sleep(0.2)  # let the responder's close reach the proxy
    finally:
        conn.close()
    assert closing.connections >= len(paths)
    for path in paths:
        record = wait_for(flows(proxy), lambda r, path=path: r["url"] == f"https://{CLOSING_HOST}{path}")
        assert (record["server_ip"], record["server_port"]) == (CLOSING_WORLD_IP, 443)
        assert record["connected_ip"] == closing.host
        assert record["host"] == CLOSING_HOST and record["sni"] == CLOSING_HOST
