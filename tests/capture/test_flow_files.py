"""flows.jsonl against flows.mitm: the ids in each, read without decoding flows.mitm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from harness.capture.flow_files import compare_flow_files, jsonl_flow_ids, mitm_flow_ids
from harness.capture.integrity import verify
from harness.capture.manifest import write_manifest


def _flows() -> list:
    big = tflow.tflow(resp=True)
    big.request.content = b"x" * 3_000_000  # skipped by its length, never read
    return [tflow.tflow(resp=True), big, tflow.ttcpflow(), tflow.tudpflow(), tflow.twebsocketflow(),
            tflow.tflow(err=True), tflow.tdnsflow()]


def _write_mitm(path: Path, flows: list) -> None:
    with path.open("wb") as fh:
        writer = io.FlowWriter(fh)
        for flow in flows:
            writer.add(flow)


def _capture(tmp_path: Path, in_jsonl: list, in_mitm: list) -> Path:
    """A capture whose two flow files hold the given flows, and a manifest that matches them."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "flows.jsonl").write_text("".join(json.dumps({"id": f.id, "host": "h.example"}) + "\n" for f in in_jsonl))
    _write_mitm(run / "flows.mitm", in_mitm)
    write_manifest(run, {"run_id": "run", "status": "ok"})
    return run


def test_mitm_ids_are_mitmproxys_own(tmp_path: Path) -> None:
    path = tmp_path / "flows.mitm"
    _write_mitm(path, _flows())
    with path.open("rb") as fh:
        expected = [f.id for f in io.FlowReader(fh).stream()]
    scan = mitm_flow_ids(path)
    assert scan.ids == expected and scan.problem is None


@pytest.mark.parametrize(("spoil", "problem"), [
    (lambda data: data[:-50], "ends inside a record at byte"),
    (lambda data: data + b"12", "ends inside a record at byte"),
    (lambda data: data + b"<html>not a flow</html>", "not a mitmproxy flow file from byte"),
])
def test_a_torn_or_foreign_tail_is_named(tmp_path: Path, spoil, problem: str) -> None:
    path = tmp_path / "flows.mitm"
    flows = _flows()
    _write_mitm(path, flows)
    path.write_bytes(spoil(path.read_bytes()))
    scan = mitm_flow_ids(path)
    assert problem in (scan.problem or "")
    assert scan.ids == [f.id for f in flows][: len(scan.ids)] and len(scan.ids) >= len(flows) - 1


def test_jsonl_ids_skip_garbled_and_deep_lines(tmp_path: Path) -> None:
    path = tmp_path / "flows.jsonl"
    path.write_text('{"id": "a"}\n{"id": \n' + "[" * 100_000 + "\n" + '{"id": "b"}\n[1]\n')
    assert jsonl_flow_ids(path) == ["a", "b"]


def test_a_kill_between_the_two_writes_fails_verify_naming_the_flow(tmp_path: Path) -> None:
    flows = [tflow.tflow(resp=True) for _ in range(3)]
    stray = tflow.tflow(resp=True)
    run = _capture(tmp_path, flows, flows[:2] + [stray])  # the last flow never reached flows.mitm
    result = verify(run)
    assert not result.changed and not result.unlisted  # the manifest matches the files
    assert result.flow_files is not None
    assert result.flow_files.only_in_jsonl == [flows[2].id]
    assert result.flow_files.only_in_mitm == [stray.id]
    assert not result.ok
    lines = result.flow_files.lines()
    assert lines[0] == f"1 flow(s) in flows.jsonl (the record) are not in flows.mitm: {flows[2].id}"
    assert lines[1] == f"1 flow(s) in flows.mitm are not in flows.jsonl, so not in reports: {stray.id}"


def test_agreeing_files_and_a_capture_without_flows_mitm(tmp_path: Path) -> None:
    flows = [tflow.tflow(resp=True) for _ in range(3)]
    run = _capture(tmp_path, flows, flows)
    assert verify(run).ok and verify(run).flow_files.agree
    (run / "flows.mitm").unlink()
    write_manifest(run, {"run_id": "run", "status": "ok"})  # e.g. imported from a HAR
    assert compare_flow_files(run) is None and verify(run).ok


def test_many_differences_are_counted_and_some_shown(tmp_path: Path) -> None:
    flows = [tflow.tflow(resp=True) for _ in range(25)]
    run = _capture(tmp_path, flows, flows[:3])
    (line,) = compare_flow_files(run).lines()
    assert line.startswith("22 flow(s) in flows.jsonl (the record) are not in flows.mitm: ")
    assert line.endswith(", ... (12 more)")
