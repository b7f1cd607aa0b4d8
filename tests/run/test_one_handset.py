"""A handset run's result: its status is a RunStatus, the same plain value in --json and run.json."""

from __future__ import annotations

import json
from pathlib import Path

from harness.run.one_handset import RunResult, RunStatus


def test_run_status_values_and_result_as_json():
    assert {s.value for s in RunStatus} == {"ok", "interrupted", "failed", "partial"}
    result = RunResult("127.0.0.1:5555", Path("/captures/run-1"), RunStatus.INTERRUPTED)
    assert result.status is RunStatus.INTERRUPTED
    data = json.loads(json.dumps(result.as_dict()))
    assert data["status"] == "interrupted" and data["run_dir"] == "/captures/run-1"
    assert RunResult(**{**result.as_dict(), "run_dir": Path(data["run_dir"])}).status is RunStatus.INTERRUPTED
