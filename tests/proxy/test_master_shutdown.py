"""Stopping a real proxy (harness.proxy.master.Proxy) while clients are sending: every
request a client got an answer for is recorded, in flows.jsonl and flows.mitm, and the
proxy's counts are the records written."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest
from mitmproxy import io
from support.servers import Server

from harness.capture.folder import FLOWS_JSONL, FLOWS_MITM, JsonlStats, iter_jsonl
from harness.config.lab import LabConfig
from harness.proxy.master import Proxy

pytestmark = pytest.mark.e2e

CLIENTS = 20
ROUNDS = 5


def _client(proxy: tuple[str, int], base: str, index: int, answered: list[str], go: threading.Event) -> None:
    """Sends requests one after the other until the proxy goes away; notes each answered URL."""
    go.wait()
    conn = http.client.HTTPConnection(*proxy, timeout=10)
    for n in range(100_000):
        url = f"{base}/c{index}/{n}"
        try:
            conn.request("GET", url)  # absolute-form: a request to a proxy
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return
        answered.append(url)  # an answer, whatever its status: the proxy must record it
        if n % 7 == 6:  # now and then a fresh connection, so some start during the stop
            conn.close()
            conn = http.client.HTTPConnection(*proxy, timeout=10)


def _round(tmp_path: Path, http_server: Server, number: int) -> None:
    lab = LabConfig.model_validate(
        {"name": "shutdown-lab", "jurisdiction": "IN", "state_dir": str(tmp_path / "state")}
    )
    capture = tmp_path / f"capture-{number}"
    proxy = Proxy(lab, capture_dir=capture, device="serial-1").start()
    answered: list[str] = []
    go = threading.Event()
    base = f"http://127.0.0.6:{http_server.port}/r{number}"
    threads = [threading.Thread(target=_client, args=(proxy.address, base, i, answered, go), daemon=True)
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    go.set()
    deadline = time.monotonic() + 10
    while len(answered) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(answered) >= 300, "the clients did not get going"
    proxy.stop()  # while all twenty are sending
    for thread in threads:
        thread.join(15)
    assert not any(t.is_alive() for t in threads), "a client still talks to a stopped proxy"

    stats = JsonlStats()
    records = list(iter_jsonl(capture / FLOWS_JSONL, stats))
    assert not stats.garbled_lines
    recorded = {r["url"] for r in records}
    lost = [url for url in answered if url not in recorded]
    assert not lost, f"round {number}: {len(lost)} answered request(s) missing from flows.jsonl: {lost[:5]}"
    with (capture / FLOWS_MITM).open("rb") as fh:
        saved = [f.id for f in io.FlowReader(fh).stream()]
    assert sorted(saved) == sorted(r["id"] for r in records), f"round {number}: flows.mitm differs"
    counts = proxy.stats.snapshot()
    assert counts["flows"] == len(records), f"round {number}: counted {counts['flows']}, wrote {len(records)}"
    assert counts["errors"] == sum(1 for r in records if r.get("kind") == "error")


def test_stopping_under_load_loses_no_answered_flow(tmp_path: Path, http_server: Server) -> None:
    for number in range(ROUNDS):
        _round(tmp_path, http_server, number)
