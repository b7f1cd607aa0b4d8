"""The step timeline: statuses are StepStatus values, written to run.json as plain strings."""

from __future__ import annotations

import json

import pytest

from harness.run.timeline import StepStatus, Timeline


def test_a_step_runs_then_ends_with_a_step_status_written_as_its_plain_value():
    timeline = Timeline()
    record = timeline.begin(1, "launch", {"package": "com.vendor.weather"}, "com.vendor.weather")
    assert record.status is StepStatus.RUNNING
    timeline.end(record, StepStatus.FAILED, "launching com.vendor.weather failed")
    assert record.status is StepStatus.FAILED
    (step,) = json.loads(json.dumps(timeline.as_list()))
    assert (step["status"], step["error"]) == ("failed", "launching com.vendor.weather failed")
    assert {s.value for s in StepStatus} == {"running", "ok", "failed", "interrupted", "skipped"}


def test_a_status_that_is_no_step_status_is_refused():
    timeline = Timeline()
    record = timeline.begin(1, "wait", {"seconds": 1.0}, None)
    with pytest.raises(ValueError):
        timeline.end(record, "done")  # type: ignore[arg-type]
    timeline.end(record, "ok")  # type: ignore[arg-type]  # a value is taken as its member
    assert record.status is StepStatus.OK


def test_each_entry_records_its_phase():
    timeline = Timeline()
    timeline.begin(1, "sim", {"action": "insert"}, None, "sim-insertion")
    timeline.begin(2, "wait", {"seconds": 1.0}, None)
    assert [s["phase"] for s in json.loads(json.dumps(timeline.as_list()))] == ["sim-insertion", None]
