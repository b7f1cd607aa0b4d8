"""addons/flowlog.py with taddons/tflow: records, flows.mitm, TLS failures, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mitmproxy import exceptions, io
from mitmproxy.proxy import context
from mitmproxy.test import taddons, tflow

from addons.destinations import Destinations
from addons.flowlog import FlowLog
from harness.capture.folder import FLOW_FIELDS, iter_jsonl
from harness.proxy.stats import ProxyStats


def records(directory: Path) -> list[dict]:
    return list(iter_jsonl(directory / "flows.jsonl"))


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: tflow.tflow(resp=True), "http"),
        (lambda: tflow.tflow(err=True), "error"),
        (lambda: tflow.ttcpflow(), "tcp"),
        (lambda: tflow.ttcpflow(err=True), "tcp"),
        (lambda: tflow.tudpflow(), "udp"),
    ],
)
def test_each_finished_flow_is_one_record_with_the_contract_fields(tmp_path: Path, make, kind: str) -> None:
    stats = ProxyStats()
    addon = FlowLog(on_record=stats.record)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_capture_dir=str(tmp_path / "cap"), audit_device="serial-9")
        flow = make()
        flow.metadata["audit"] = {"flags": ["foreign"], "findings": [{"type": "imei"}], "notes": ["n"]}
        hook = {"http": "response", "error": "error"}.get(kind) or ("tcp_error" if flow.error else f"{kind}_end")
        getattr(addon, hook)(flow)
        getattr(addon, hook)(flow)  # a second event for the same flow is not a second record
        addon.done()
    (record,) = records(tmp_path / "cap")
    assert set(FLOW_FIELDS) <= set(record)
    assert {"kind", "notes"} <= set(record)
    assert record["kind"] == kind
    assert record["device"] == "serial-9"
    assert record["flags"] == ["foreign"] and record["notes"] == ["n"]
    assert stats.snapshot()["flows"] == 1 and stats.snapshot()["findings"] == 1
    with (tmp_path / "cap" / "flows.mitm").open("rb") as fh:
        (saved,) = list(io.FlowReader(fh).stream())
    assert saved.id == record["id"]
    assert (tmp_path / "cap").stat().st_mode & 0o777 == 0o700


def test_http_record_fields(tmp_path: Path) -> None:
    addon = FlowLog()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_capture_dir=str(tmp_path))
        flow = tflow.tflow(resp=True)
        addon.response(flow)
        addon.done()
    (record,) = records(tmp_path)
    assert (record["method"], record["status"], record["http_version"]) == ("GET", 200, "HTTP/1.1")
    assert record["url"] == "http://address:22/path"
    assert record["request_bytes"] == len(flow.request.raw_content)
    assert record["server_ip"] == "192.168.0.1"
    assert record["ts_start"] <= record["ts_end"]


def test_tls_failure_becomes_a_classified_record(tmp_path: Path) -> None:
    destinations, flowlog = Destinations(), FlowLog()
    with taddons.context(destinations, flowlog) as tctx:
        tctx.configure(destinations, audit_jurisdiction="IN")
        tctx.configure(flowlog, audit_capture_dir=str(tmp_path))
        client, server = tflow.tclient_conn(), tflow.tserver_conn()
        client.sni = "pinned.example"
        client.error = "tlsv1 alert unknown ca"
        server.peername = ("8.8.8.8", 443)
        server.address = ("pinned.example", 443)
        data = _tls_data(client, server, tctx)
        asyncio.run(flowlog.tls_failed_client(data))
        flowlog.done()
    (record,) = records(tmp_path)
    assert record["kind"] == "tls_failed"
    assert record["tls"]["failure"] == {"side": "client", "error": "tlsv1 alert unknown ca", "sni": "pinned.example"}
    assert {"tls_rejected", "foreign"} <= set(record["flags"])
    assert record["country"] == "US"
    assert "client rejected" in record["error"]


def _tls_data(client, server, tctx):
    from mitmproxy import tls

    ctx = context.Context(client, tctx.options)
    ctx.server = server
    return tls.TlsData(client, ctx)


def test_capture_dir_that_is_a_file_is_an_option_error(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    addon = FlowLog()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="not a folder"):
            tctx.configure(addon, audit_capture_dir=str(target))


def test_without_capture_dir_nothing_is_written(tmp_path: Path) -> None:
    addon = FlowLog()
    with taddons.context(addon):
        record = addon.record(tflow.tflow(resp=True))
    assert record is not None and record["kind"] == "http"
    assert list(tmp_path.iterdir()) == []


def test_websocket_is_recorded_when_it_ends(tmp_path: Path) -> None:
    addon = FlowLog()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_capture_dir=str(tmp_path))
        flow = tflow.twebsocketflow()
        addon.response(flow)
        assert records(tmp_path) == []
        flow.metadata["audit"] = {"findings": [{"type": "imei"}]}
        addon.websocket_end(flow)
        addon.done()
    (record,) = records(tmp_path)
    assert record["status"] == 101 and record["findings"] == [{"type": "imei"}]


def test_a_flow_finishing_after_done_is_neither_written_nor_counted(tmp_path: Path, caplog) -> None:
    stats = ProxyStats()
    addon = FlowLog(on_record=stats.record)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_capture_dir=str(tmp_path))
        first, late = tflow.tflow(resp=True), tflow.tflow(resp=True)
        addon.requestheaders(first)
        addon.requestheaders(late)
        assert addon.in_flight == 2
        addon.response(first)
        assert addon.in_flight == 1
        addon.done()
        addon.response(late)  # mitmdump stopped while this one was on its way
    assert [r["id"] for r in records(tmp_path)] == [first.id]
    assert stats.snapshot()["flows"] == 1  # the counts are what was written
    assert addon.in_flight == 0
    assert f"flow {late.id} finished after the flow log was closed" in caplog.text


def test_a_flow_with_unserialisable_metadata_still_reaches_flows_mitm(tmp_path: Path) -> None:
    addon = FlowLog()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_capture_dir=str(tmp_path))
        flow = tflow.tflow(resp=True)
        flow.metadata["audit"] = {"flags": ["foreign"]}
        flow.metadata["other_addon"] = object()  # what another addon left there
        addon.response(flow)
        addon.done()
    (record,) = records(tmp_path)
    with (tmp_path / "flows.mitm").open("rb") as fh:
        (saved,) = list(io.FlowReader(fh).stream())
    assert saved.id == record["id"]  # flows.mitm holds what flows.jsonl holds
    assert saved.metadata["audit"]["flags"] == ["foreign"]
    assert "other_addon" in flow.metadata  # the live flow keeps its metadata
