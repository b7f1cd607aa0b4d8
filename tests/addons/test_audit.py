"""addons/audit.py: the audit addons as one mitmproxy addon, each isolated from the others."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from mitmproxy import exceptions, hooks
from mitmproxy.test import taddons, tflow, tutils
from support.servers import IMEI

from addons.audit import Audit
from addons.sensitive import THREAD_BYTES
from harness.capture.folder import iter_jsonl


def test_every_hook_of_every_addon_is_dispatched() -> None:
    chain = Audit.standard()
    table = chain.dispatch_table()
    for child in chain.children:
        for name in hooks.all_hooks:
            if name not in ("load", "configure") and callable(getattr(child, name, None)):
                assert name in table, f"{type(child).__name__}.{name} would never be called"
    assert table["response"] == 4 and table["request"] == 1 and table["tls_failed_client"] == 2
    assert table["running"] == 1  # containment takes mitmproxy's own resolver out there
    assert table["dns_request"] == 3 and table["udp_message"] == 1 and table["next_layer"] == 1


class Calls:
    def __init__(self, log: list[str], name: str, fail: bool = False, wait: bool = False):
        self.log, self.name, self.fail, self.wait = log, name, fail, wait

    def response(self, flow):
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        if self.wait:
            return self._later()
        self.log.append(self.name)
        return None

    async def _later(self) -> None:
        await asyncio.sleep(0.01)
        self.log.append(self.name)


def test_an_addon_error_is_logged_and_the_next_addon_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    chain = Audit(Calls(log, "first"), Calls(log, "broken", fail=True), Calls(log, "last"))
    with caplog.at_level(logging.ERROR, logger="mitmproxy.addonmanager"):
        assert chain.response(tflow.tflow(resp=True)) is None
    assert log == ["first", "last"]
    assert "broken broke" in caplog.text and "Traceback" in caplog.text


def test_an_awaited_hook_finishes_before_the_next_addon_runs(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    chain = Audit(Calls(log, "a"), Calls(log, "slow", wait=True), Calls(log, "broken", fail=True), Calls(log, "z"))
    pending = chain.response(tflow.tflow(resp=True))
    assert log == ["a"] and pending is not None
    with caplog.at_level(logging.ERROR, logger="mitmproxy.addonmanager"):
        asyncio.run(pending)
    assert log == ["a", "slow", "z"]
    assert "broken broke" in caplog.text


def test_addon_halt_still_stops_the_event() -> None:
    class Halt:
        def response(self, flow):
            raise exceptions.AddonHalt()

    log: list[str] = []
    with pytest.raises(exceptions.AddonHalt):
        Audit(Halt(), Calls(log, "after")).response(tflow.tflow(resp=True))
    assert log == []


def test_options_of_all_addons_and_their_errors(tmp_path: Path) -> None:
    chain = Audit.standard()
    with taddons.context(chain) as tctx:
        for option in ("audit_jurisdiction", "audit_canaries", "audit_capture_dir", "audit_zone", "audit_client_allowlist"):
            assert option in tctx.options
        with pytest.raises(exceptions.OptionsError, match="ISO 3166"):
            tctx.configure(chain, audit_jurisdiction="XX")


def _configured(tctx, chain: Audit, capture: Path, canaries_file: Path) -> None:
    tctx.configure(chain, audit_jurisdiction="IN", audit_canaries=str(canaries_file), audit_capture_dir=str(capture))


def test_a_scan_on_a_worker_thread_is_in_the_record(tmp_path: Path, canaries_file: Path) -> None:
    chain = Audit.standard()
    with taddons.context(chain) as tctx:
        _configured(tctx, chain, tmp_path / "capture", canaries_file)
        body = b"x" * THREAD_BYTES + f"&imei={IMEI}".encode()
        flow = tflow.tflow(req=tutils.treq(path=b"/upload", content=body), resp=True)
        pending = chain.request(flow)
        assert pending is not None  # the scanner's awaitable comes through the chain
        asyncio.run(pending)
        assert chain.response(flow) is None
        chain.done()
    (record,) = iter_jsonl(tmp_path / "capture" / "flows.jsonl")
    assert ("imei", "body") in {(f["id"], f["where"]) for f in record["findings"]}


def test_a_broken_scanner_does_not_lose_the_flow(
    tmp_path: Path, canaries_file: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    chain = Audit.standard()
    with taddons.context(chain) as tctx:
        _configured(tctx, chain, tmp_path / "capture", canaries_file)
        sensitive = next(child for child in chain.children if type(child).__name__ == "Sensitive")

        def broken(**kwargs):
            raise RuntimeError("scanner bug")

        sensitive.scanner.scan_message = broken
        flow = tflow.tflow(resp=True)
        with caplog.at_level(logging.ERROR, logger="mitmproxy.addonmanager"):
            chain.request(flow)
            chain.response(flow)
        chain.done()
    (record,) = iter_jsonl(tmp_path / "capture" / "flows.jsonl")
    assert record["id"] == flow.id and record["country_confidence"]  # classified and recorded
    assert "scanner bug" in caplog.text
