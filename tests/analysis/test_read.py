"""Reading capture folders: a hostile line or file is a warning or a clear error, never a crash."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.capture_builder import CaptureBuilder

from harness.cli.main import main

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(autouse=True)
def no_lab_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no lab.yaml here: reports without a policy


def report_json(run, tmp_path):
    return CliRunner().invoke(main, ["report", str(run), "--format", "json"])


def test_report_skips_a_deeply_nested_flows_line_with_a_warning_naming_it(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    flows = len(b.flows)
    b.raw_flow_lines.append('{"id": "deep", "host": ' + DEEP + "}")
    b.raw_flow_lines.append(json.dumps({**b.flows[0], "id": "after-the-deep-line"}))
    run = b.write()
    result = report_json(run, tmp_path)
    assert result.exit_code == 0, (result.output, result.exception)
    summary = json.loads((run / "report" / "report.json").read_text())["summary"]
    assert summary["counts"]["flows"] == flows + 1  # every other line, the one after included
    assert (f"run/flows.jsonl: 1 garbled line(s) skipped (line {flows + 1}: nested more than "
            "100 levels deep)") in summary["warnings"]


def test_a_deeply_nested_run_json_is_a_clear_error(tmp_path):
    run = CaptureBuilder(tmp_path / "run").vendor_scenario().write()
    (run / "run.json").write_text('{"run_id": "x", "steps": ' + DEEP + "}")
    result = report_json(run, tmp_path)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "run.json: not valid JSON (nested more than 100 levels deep: line 1" in result.stderr


def test_deeply_nested_canaries_are_a_warning(tmp_path):
    run = CaptureBuilder(tmp_path / "run").vendor_scenario().write()
    (run / "canaries.json").write_text(DEEP)
    result = report_json(run, tmp_path)
    assert result.exit_code == 0, (result.output, result.exception)
    warnings = json.loads((run / "report" / "report.json").read_text())["summary"]["warnings"]
    assert any("canaries.json: not valid JSON (nested more than 100 levels" in w for w in warnings)
