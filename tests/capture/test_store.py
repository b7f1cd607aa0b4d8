"""The campaign store: its folders, the campaign.json index (merged, atomic), which runs
count as done (ok, run.json as recorded, the capture verifies), one writer at a time."""

from __future__ import annotations

import json
import os

import pytest
from support.capture_builder import CaptureBuilder

from harness.capture.manifest import sha256_file
from harness.capture.store import CAMPAIGN_JSON, RunRecord, open_store, run_key
from harness.errors import CaptureError

CAMPAIGN = {"id": "survey", "name": "survey"}


def test_a_store_is_private_and_belongs_to_one_campaign(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    assert oct((tmp_path / "store").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "store" / "captures").stat().st_mode & 0o777) == "0o700"
    store.update()
    data = json.loads((tmp_path / "store" / CAMPAIGN_JSON).read_text())
    assert data["format"] == "lab-harness-campaign" and data["campaign"]["id"] == "survey"
    assert open_store(tmp_path / "store", CAMPAIGN).read().campaign["id"] == "survey"
    with pytest.raises(CaptureError, match="holds campaign 'survey', not 'other'"):
        open_store(tmp_path / "store", {"id": "other"})


def test_run_folders_are_one_path_component_per_run(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    folder = store.run_folder(run_key("idle", "virtual:vendor-1.0", 2))
    assert folder == tmp_path / "store" / "captures" / "idle--virtual_vendor-1.0--2"
    assert store.run_folder(run_key("../..", "a/b", 1)).parent == tmp_path / "store" / "captures"


def test_updates_merge_runs_by_key_newest_wins_and_leave_no_temp_file(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    a = RunRecord("p/A/1", "p", "A", 1, status="running", host="h1", updated=100.0)
    b = RunRecord("p/B/1", "p", "B", 1, status="pending", updated=100.0)
    store.update([a, b], handsets={"A": {"label": "phone A"}}, hosts={"h1": {"state": "up"}})
    store.update([RunRecord("p/A/1", "p", "A", 1, status="ok", host="h1", updated=200.0)],
                 hosts={"h1": {"address": "tcp://10.0.0.1:1"}})
    store.update([RunRecord("p/A/1", "p", "A", 1, status="failed", updated=150.0)])  # stale: ignored
    index = store.read()
    assert {k: r.status for k, r in index.runs.items()} == {"p/A/1": "ok", "p/B/1": "pending"}
    assert index.hosts == {"h1": {"state": "up", "address": "tcp://10.0.0.1:1"}}
    assert index.handsets == {"A": {"label": "phone A"}}
    data = json.loads((tmp_path / "store" / CAMPAIGN_JSON).read_text())
    assert [r["key"] for r in data["runs"]] == ["p/A/1", "p/B/1"]
    assert sorted(os.listdir(tmp_path / "store")) == [CAMPAIGN_JSON, "captures"]


def test_a_garbled_index_is_refused_not_overwritten(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    (tmp_path / "store" / CAMPAIGN_JSON).write_text('{"format": "lab-harness-campaign", "format_version": 1}')
    with pytest.raises(CaptureError, match="garbled campaign index"):
        store.update([RunRecord("p/A/1", "p", "A", 1)])
    assert (tmp_path / "store" / CAMPAIGN_JSON).read_text().startswith('{"format"')


def _done_run(store, key="p/A/1"):
    capture = CaptureBuilder(store.run_folder(key) / "run-1").vendor_scenario().write()
    return capture, RunRecord(key, "p", "A", 1, status="ok", capture=store.relative(capture),
                              run_id=capture.name, manifest_sha256=sha256_file(capture / "run.json"))


def test_done_means_ok_recorded_hash_and_a_capture_that_verifies(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    capture, record = _done_run(store)
    assert store.done(record)
    assert not store.done(None)
    assert not store.done(RunRecord(**{**record.as_dict(), "status": "partial"}))
    assert not store.done(RunRecord(**{**record.as_dict(), "manifest_sha256": "0" * 64}))
    flows = capture / "flows.jsonl"
    flows.write_bytes(flows.read_bytes() + b"\n")  # tampered: verify fails
    assert not store.done(record)


def test_done_is_false_when_the_capture_is_gone(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    capture, record = _done_run(store)
    (capture / "run.json").unlink()
    assert not store.done(record)


def test_one_campaign_run_at_a_time_per_store(tmp_path):
    store = open_store(tmp_path / "store", CAMPAIGN)
    other = open_store(tmp_path / "store", CAMPAIGN)
    with store.locked():
        with pytest.raises(CaptureError, match=r"already writing this store \(pid \d+ on "), other.locked():
            pass
    with other.locked():  # released
        pass
