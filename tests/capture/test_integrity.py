"""`lab verify`: artifacts are plain files inside the capture, named in the manifest;
anything else is named."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.capture.canaries import load_canaries
from harness.capture.folder import JsonlStats, JsonlWriter, iter_jsonl
from harness.capture.integrity import safe_artifact_name, verify
from harness.capture.manifest import read_manifest, write_manifest
from harness.cli.main import main
from harness.errors import CaptureError


def _capture(tmp_path: Path) -> Path:
    run = tmp_path / "run-1"
    run.mkdir()
    with JsonlWriter(run / "flows.jsonl") as w:
        w.write({"id": "f1", "host": "a.example"})
    (run / "canaries.json").write_text('{"identifiers": {}}')
    write_manifest(run, {"run_id": "run-1", "status": "ok"})
    return run


@pytest.fixture(autouse=True)
def _no_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lab verify` runs in a folder without a lab.yaml (so no signature is required)."""
    monkeypatch.chdir(tmp_path)


def _lab_verify(run: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", str(run)])
    return result.exit_code, result.output


def test_a_dotfile_is_an_artifact_like_any_other(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    (run / ".hidden").write_text("added after the manifest")
    result = verify(run)
    assert result.unlisted == [".hidden"] and not result.ok
    code, out = _lab_verify(run)
    assert code == 1 and "not in manifest: .hidden" in out
    # and one written before the manifest is covered by it
    write_manifest(run, read_manifest(run))
    assert ".hidden" in read_manifest(run)["artifacts"]
    assert verify(run).ok


def test_report_files_are_named_as_not_covered(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    (run / "report").mkdir()
    (run / "report" / "report.html").write_text("<p>nothing to see</p>")  # forged, or just lab report's
    result = verify(run)
    assert result.not_covered == ["report/report.html"]
    assert result.ok  # report/ comes after the manifest: named, but not a failure
    code, out = _lab_verify(run)
    assert code == 0, out
    assert "not covered by the manifest (written by lab report): report/report.html" in out


def test_a_symlinked_artifact_is_not_followed(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_bytes((run / "flows.jsonl").read_bytes())  # same bytes, other file
    (run / "flows.jsonl").unlink()
    (run / "flows.jsonl").symlink_to(elsewhere)
    result = verify(run)
    assert result.not_plain == ["flows.jsonl"] and not result.changed and not result.ok
    code, out = _lab_verify(run)
    assert code == 1 and "not a plain file (link, FIFO, device or folder): flows.jsonl" in out


def test_unlisted_links_fifos_and_linked_folders_are_named(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not evidence")
    (run / "more").symlink_to(outside)
    os.mkfifo(run / "pipe")
    (run / "report").mkdir()
    (run / "report" / "link.html").symlink_to(outside / "secret.txt")
    result = verify(run)
    assert result.not_plain == ["more", "pipe", "report/link.html"]
    assert result.unlisted == [] and not result.ok  # more/secret.txt is not entered


def test_names_outside_the_capture_are_never_hashed(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("the lab's private notes")
    manifest = read_manifest(run)
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    manifest["artifacts"]["../secret.txt"] = digest  # an unsigned manifest can name anything
    manifest["artifacts"]["../../../../../../.." + str(secret)] = digest
    manifest["artifacts"][str(secret)] = digest
    (run / "run.json").write_text(json.dumps(manifest))
    result = verify(run)
    assert sorted(result.unsafe) == sorted(["../secret.txt", "../../../../../../.." + str(secret), str(secret)])
    assert not result.changed and not result.missing and not result.ok
    code, out = _lab_verify(run)
    assert code == 1 and "outside the capture (not checked): ../secret.txt" in out


def test_safe_artifact_names() -> None:
    assert safe_artifact_name("flows.jsonl") and safe_artifact_name("sub/.dot")
    for bad in ("", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/", "run.json", "a\0b", 7, None):
        assert not safe_artifact_name(bad), bad


def test_a_folder_where_an_artifact_should_be(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    (run / "canaries.json").unlink()
    (run / "canaries.json").mkdir()
    result = verify(run)
    assert result.not_plain == ["canaries.json"] and not result.missing


DEEP = "[" * 100_000


def test_a_deeply_nested_run_json_is_a_clear_error(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    manifest = (run / "run.json").read_text().rstrip().rstrip("}")
    (run / "run.json").write_text(manifest + f', "deep": {DEEP}{"]" * 100_000}}}')
    code, out = _lab_verify(run)
    assert code == 2, out
    (line,) = out.strip().splitlines()
    assert line.startswith(f"lab: {run / 'run.json'}: not valid JSON (nested more than 100 levels deep")


def test_a_deeply_nested_canaries_json_is_a_clear_error(tmp_path: Path) -> None:
    run = _capture(tmp_path)
    (run / "canaries.json").write_text(DEEP)
    write_manifest(run, read_manifest(run))
    assert verify(run).ok  # an artifact like any other: hashed, not parsed
    with pytest.raises(CaptureError, match=r"canaries.json: not valid JSON \(nested more than 100 levels deep"):
        load_canaries(run / "canaries.json")


def test_a_deeply_nested_jsonl_line_is_garbled(tmp_path: Path) -> None:
    path = tmp_path / "flows.jsonl"
    path.write_text('{"id": "a"}\n' + DEEP + '\n{"id": "b"}\n')
    stats = JsonlStats()
    assert [r["id"] for r in iter_jsonl(path, stats)] == ["a", "b"]
    assert stats.garbled_lines == [2]
