"""The journal: written before each change, to both copies, readable after a kill."""

import json
import os

import pytest

from harness.devices.journal import (
    EntryState,
    Journal,
    JournalStatus,
    pending_journals,
    sanitise_serial,
    state_journal_path,
)
from harness.errors import CaptureError


def test_written_before_the_change_to_both_copies(tmp_path):
    state, capture = tmp_path / "state", tmp_path / "captures" / "run1"
    journal = Journal.create("127.0.0.1:5555", state, capture, device={"model": "X"})
    entry = journal.begin("http_proxy", previous=None)
    for path in journal.paths:
        data = json.loads(path.read_text())
        assert data["entries"][0] == {**data["entries"][0], "kind": "http_proxy", "state": "pending"}
        assert data["entries"][0]["undo"] == {"previous": None}
    journal.done(entry)
    assert state_journal_path(state, "127.0.0.1:5555").name == "127.0.0.1_5555.json"
    loaded = Journal.load(state_journal_path(state, "127.0.0.1:5555"))
    assert loaded.entries[0].state == EntryState.DONE and loaded.device == {"model": "X"}
    assert [p.name for p in loaded.paths] == ["127.0.0.1_5555.json", "journal.json"]
    assert oct(os.stat(loaded.paths[1]).st_mode & 0o777) == "0o600"
    assert oct(os.stat(capture).st_mode & 0o777) == "0o700"


def test_pending_listing_and_restored_status(tmp_path):
    a = Journal.create("serial-a", tmp_path)
    Journal.create("serial-b", tmp_path).set_status(JournalStatus.RESTORED)
    assert [j.serial for j in pending_journals(tmp_path)] == ["serial-a"]
    assert pending_journals(tmp_path, "serial-b") == []
    a.set_status(JournalStatus.RESTORED)
    assert pending_journals(tmp_path) == []


def test_deleted_capture_folder_is_not_recreated(tmp_path):
    capture = tmp_path / "run"
    journal = Journal.create("s", tmp_path / "state", capture)
    (capture / "journal.json").unlink()
    capture.rmdir()
    journal.note("later")
    assert not capture.exists()
    assert "later" in journal.paths[0].read_text()


@pytest.mark.parametrize("text", ["{", "[]", '{"format": "other"}',
                                  '{"format": "lab-harness-journal", "format_version": 99}',
                                  '{"format": "lab-harness-journal", "format_version": 1}'])
def test_garbled_journals_are_clear_errors(tmp_path, text):
    path = tmp_path / "j.json"
    path.write_text(text)
    with pytest.raises(CaptureError):
        Journal.load(path)


def test_sanitise():
    assert sanitise_serial("127.0.0.1:5555") == "127.0.0.1_5555"
    assert sanitise_serial("../../x") == ".._.._x"


def test_lab_restore_reports_a_garbled_journal_and_fails(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from harness.cli.main import main

    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n")
    (tmp_path / "state" / "journals").mkdir(parents=True)
    (tmp_path / "state" / "journals" / "x.json").write_text("{torn")
    result = CliRunner().invoke(main, ["restore", "--lab", str(lab)])
    assert result.exit_code == 3 and "x.json" in result.output and "left in place" in result.output
    assert "Traceback" not in result.output
