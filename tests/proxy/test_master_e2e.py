"""End to end through a real mitmproxy (harness.proxy.Proxy) with curl and httpx,
over HTTP/1.1, HTTP/2 and HTTPS against local servers."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.servers import IMEI, Server, TestCA, wait_for

from addons.sensitive import THREAD_BYTES_COMPRESSED
from harness.capture.folder import FLOWS_JSONL, FLOWS_MITM
from harness.config.lab import LabConfig
from harness.proxy.master import Proxy

pytestmark = pytest.mark.e2e
CURL = shutil.which("curl")


@pytest.fixture(scope="module")
def proxy(workdir: Path, test_ca: TestCA, canaries_file: Path) -> Iterator[Proxy]:
    lab = LabConfig.model_validate(
        {
            "name": "e2e-lab",
            "jurisdiction": "IN",
            "policy": {"watchlist_countries": ["CN"], "allowed_domains": ["allowed.example"]},
            "proxy": {"upstream_ca": str(test_ca.cert_path), "max_body_bytes": 1024 * 1024},
            "state_dir": str(workdir / "state"),
        }
    )
    with Proxy(lab, capture_dir=workdir / "capture", device="serial-1", canaries=canaries_file) as running:
        yield running


@pytest.fixture(scope="module")
def flows(proxy: Proxy) -> Path:
    assert proxy.capture_dir is not None
    return proxy.capture_dir / FLOWS_JSONL


def curl(proxy: Proxy, *args: str) -> subprocess.CompletedProcess[str]:
    assert CURL, "curl is needed for the end-to-end tests"
    return subprocess.run(
        [CURL, "-sS", "--max-time", "20", "-x", proxy.url, "--noproxy", "", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )


def test_proxy_listens_on_loopback_with_its_own_ca(proxy: Proxy) -> None:
    assert proxy.listen_host == "127.0.0.1"
    assert proxy.port > 0
    assert proxy.ca_cert_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert proxy.ca_cert_path.parent == proxy.confdir


def test_http1_imei_sha256_in_gzip_json_is_found(proxy: Proxy, flows: Path, http_server: Server, workdir: Path) -> None:
    body = workdir / "body.gz"
    body.write_bytes(gzip.compress(json.dumps({"d": {"h": hashlib.sha256(IMEI.encode()).hexdigest()}}).encode()))
    url = f"http://127.0.0.6:{http_server.port}/collect"
    done = curl(proxy, "--http1.1", "-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip",
                "--data-binary", f"@{body}", url)
    assert done.stdout == "ok", done.stderr
    record = wait_for(flows, lambda r: r["url"] == url)
    assert {"type": "imei", "id": "imei", "where": "body:$.d.h", "encoding": "sha256+gzip",
            "offset": 0} in record["findings"]
    assert record["http_version"] == "HTTP/1.1"
    assert record["device"] == "serial-1"
    assert "cleartext" in record["flags"] and "sensitive_data" in record["flags"]
    assert "not_allowlisted" in record["flags"]
    assert record["country_confidence"] == "private"
    assert proxy.stats.snapshot()["findings"] >= 1


def test_https_http2_with_curl(proxy: Proxy, flows: Path, https_server: Server) -> None:
    url = f"https://127.0.0.7:{https_server.port}/h2?aid=9774d56d682e549c"
    done = curl(proxy, "--http2", "--cacert", str(proxy.ca_cert_path), url)
    assert done.stdout == "ok", done.stderr
    record = wait_for(flows, lambda r: r["url"] == url)
    assert record["http_version"] == "HTTP/2.0"
    assert record["tls"]["intercepted"] is True
    assert record["tls"]["version"].startswith("TLS")
    assert "cleartext" not in record["flags"]
    assert ("android_id", "url") in {(f["id"], f["where"]) for f in record["findings"]}


@pytest.mark.parametrize("http2", [False, True])
def test_https_with_httpx(proxy: Proxy, flows: Path, https_server: Server, http2: bool) -> None:
    context = ssl.create_default_context(cafile=str(proxy.ca_cert_path))
    url = f"https://127.0.0.7:{https_server.port}/httpx/{int(http2)}"
    with httpx.Client(proxy=proxy.url, verify=context, http2=http2, trust_env=False) as client:
        response = client.post(url, headers={"X-Dev": IMEI}, content=b"hello")
    assert response.text == "ok"
    record = wait_for(flows, lambda r: r["url"] == url)
    assert record["http_version"] == ("HTTP/2.0" if http2 else "HTTP/1.1")
    assert {"type": "imei", "id": "imei", "where": "header:x-dev", "encoding": "plain", "offset": 0} in record["findings"]


def test_client_rejecting_the_ca_is_recorded_as_tls_rejected(proxy: Proxy, flows: Path, https_server: Server) -> None:
    done = curl(proxy, "--cacert", str(proxy.ca_cert_path.parent / "does-not-trust.pem"),
                f"https://127.0.0.7:{https_server.port}/pinned")
    assert done.returncode != 0
    record = wait_for(flows, lambda r: r["kind"] == "tls_failed")
    assert "tls_rejected" in record["flags"]
    assert record["tls"]["failure"]["side"] == "client"
    assert record["server_ip"] == "127.0.0.7"
    assert record["server_port"] == https_server.port


@pytest.mark.parametrize(
    ("name", "headers", "body", "note"),
    [
        ("bad-gzip", {"Content-Encoding": "gzip", "Content-Type": "application/json"}, b"\x1f\x8b\x08nope", "did not decode"),
        ("bad-protobuf", {"Content-Type": "application/x-protobuf"}, b"\x0a\x7f\x01\x02", "protobuf"),
        ("bad-utf8", {"Content-Type": "application/json"}, b'{"a": "\xff\xfe\xfd"}', "JSON"),
    ],
)
def test_garbage_bodies_are_recorded_with_a_note(
    proxy: Proxy, flows: Path, http_server: Server, name: str, headers: dict, body: bytes, note: str
) -> None:
    url = f"http://127.0.0.6:{http_server.port}/garbage/{name}"
    with httpx.Client(proxy=proxy.url, trust_env=False) as client:
        assert client.post(url, headers=headers, content=body).text == "ok"
    record = wait_for(flows, lambda r: r["url"] == url)
    assert any(note in n for n in record["notes"]), record["notes"]


def test_a_large_buffered_body_is_scanned_off_the_event_loop(proxy: Proxy, flows: Path, http_server: Server) -> None:
    url = f"http://127.0.0.6:{http_server.port}/upload"
    blob = base64.b64encode(random.Random(6).randbytes(400_000)).decode()  # does not compress much
    body = gzip.compress(json.dumps({"blob": blob, "device": {"imei": IMEI}}).encode())
    assert THREAD_BYTES_COMPRESSED <= len(body) < 1024 * 1024  # a worker thread's, < max body
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=60) as client:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        assert client.post(url, content=body, headers=headers).text == "ok"
    record = wait_for(flows, lambda r: r["url"] == url)
    assert {"type": "imei", "id": "imei", "where": "body:$.device.imei", "encoding": "gzip", "offset": 0} in record["findings"]
    assert "sensitive_data" in record["flags"]
    assert record["request_bytes"] == len(body)


def test_200_mb_body_streams_through_and_is_scanned_raw(proxy: Proxy, flows: Path, http_server: Server) -> None:
    size = 200 * 1024 * 1024
    chunk = b"\0" * (1024 * 1024)
    tail = f"imei={IMEI}".encode()

    def body() -> Iterator[bytes]:
        for _ in range(size // len(chunk) - 1):
            yield chunk
        yield chunk[: len(chunk) - len(tail)] + tail

    url = f"http://127.0.0.6:{http_server.port}/big"
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=120) as client:
        response = client.post(url, content=body(), headers={"Content-Length": str(size)})
    assert response.text == "ok"
    assert http_server.seen[-1].body_bytes == size
    record = wait_for(flows, lambda r: r["url"] == url)
    assert record["request_bytes"] == size
    assert any("streamed" in n for n in record["notes"])
    assert {"type": "imei", "id": "imei", "where": "body", "encoding": "plain", "offset": size - 15} in record["findings"]


def test_flows_mitm_holds_the_same_flows(proxy: Proxy, flows: Path, http_server: Server) -> None:
    from mitmproxy import io

    url = f"http://127.0.0.6:{http_server.port}/mitm"
    assert curl(proxy, url).stdout == "ok"
    record = wait_for(flows, lambda r: r["url"] == url)
    with (flows.parent / FLOWS_MITM).open("rb") as fh:
        saved = {f.id: f for f in io.FlowReader(fh).stream()}
    assert record["id"] in saved
    assert saved[record["id"]].metadata["audit"]["host"] == "127.0.0.6"
