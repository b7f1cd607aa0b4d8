"""`lab verify`, `lab report`, `lab diff` and `lab regress` on evidence that does not
hold together: flow files that disagree, captures that fail their verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mitmproxy import io
from mitmproxy.test import tflow
from support.capture_builder import CaptureBuilder

from harness.capture.manifest import write_manifest
from harness.cli.main import main


@pytest.fixture(autouse=True)
def _no_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command runs in a folder without a lab.yaml."""
    monkeypatch.chdir(tmp_path)


def lab(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def _capture(root: Path, variant: str = "vendor-1.0", *, mitm_lacks_last: bool = False) -> Path:
    """A vendor capture with its flows.mitm and a manifest that matches its files."""
    builder = CaptureBuilder(root, variant=variant).vendor_scenario()
    run = builder.write()
    ids = [f["id"] for f in builder.flows]
    with (run / "flows.mitm").open("wb") as fh:
        writer = io.FlowWriter(fh)
        for flow_id in ids[:-1] if mitm_lacks_last else ids:
            flow = tflow.tflow(resp=True)
            flow.id = flow_id
            writer.add(flow)
    manifest = json.loads((run / "run.json").read_text())
    write_manifest(run, manifest)
    return run


def test_verify_and_report_name_the_flow_missing_from_flows_mitm(tmp_path: Path) -> None:
    run = _capture(tmp_path / "run", mitm_lacks_last=True)
    last = [json.loads(line)["id"] for line in (run / "flows.jsonl").read_text().splitlines()][-1]
    code, out = lab("verify", run)
    assert code == 1, out
    assert f"flow files disagree: 1 flow(s) in flows.jsonl (the record) are not in flows.mitm: {last}" in out
    code, out = lab("report", run, "--format", "md", "--out", tmp_path / "report")
    assert code == 0, out
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"1 flow(s) in flows.jsonl (the record) are not in flows.mitm: {last}" in report


def test_agreeing_flow_files_verify(tmp_path: Path) -> None:
    run = _capture(tmp_path / "run")
    code, out = lab("verify", run)
    assert code == 0, out
    assert "flow files disagree" not in out
