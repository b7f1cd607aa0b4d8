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


DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deeply_nested_journal_is_a_clear_error_naming_the_line(tmp_path):
    path = tmp_path / "j.json"
    path.write_text('{"format": "lab-harness-journal",\n "entries": ' + DEEP + "}")
    with pytest.raises(CaptureError, match=r"j\.json: not a readable journal: nested more than 100 "
                                           r"levels deep: line 2 column 112"):
        Journal.load(path)


def test_pending_journals_of_one_handset_pass_over_another_handsets_bad_journal(tmp_path):
    Journal.create("serial-a", tmp_path)
    bad = state_journal_path(tmp_path, "serial-b")
    bad.write_text(DEEP)
    assert [j.serial for j in pending_journals(tmp_path, "serial-a")] == ["serial-a"]
    with pytest.raises(CaptureError, match="serial-b.json"):
        pending_journals(tmp_path, "serial-b")  # its own journal: it cannot be prepared over
    with pytest.raises(CaptureError, match="serial-b.json"):
        pending_journals(tmp_path)


@pytest.mark.e2e
def test_lab_restore_restores_the_others_and_names_a_deeply_nested_journal(
        virtual_handset, adb_server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from harness.cli.main import main

    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    vh = virtual_handset("reference")
    state = tmp_path / "state"
    journal = Journal.create(vh.serial, state)
    entry = journal.begin("http_proxy", previous=None)
    vh.shell("settings put global http_proxy 127.0.0.1:18099")
    journal.done(entry)
    journal.set_status(JournalStatus.PREPARED)
    bad = state / "journals" / "aaa-first.json"  # sorted before the good one
    bad.write_text('{"format": "lab-harness-journal", "entries": ' + DEEP + "}")
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: t\njurisdiction: IN\nstate_dir: {state}\n")
    result = CliRunner().invoke(main, ["restore", "--lab", str(lab)])
    assert result.exit_code == 3, (result.output, result.exception)
    assert f"{bad}: not a readable journal: nested more than 100 levels deep: line 1" in result.stderr
    assert "left in place" in result.stderr and bad.exists()
    assert f"restored {vh.serial}: http_proxy" in result.stderr
    assert vh.shell("settings get global http_proxy")[0].strip() == "null"
    assert Journal.load(state_journal_path(state, vh.serial)).status == JournalStatus.RESTORED
