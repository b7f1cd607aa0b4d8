"""check_files and list_profiles: kinds decided by content, then location; results as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config.check import CheckResult, check_files, kind_of, list_profiles
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_kind_by_content_then_location(tmp_path):
    assert kind_of(tmp_path / "anything.yaml", {"steps": []}) == "profile"
    assert kind_of(tmp_path / "anything.yaml", {"jurisdiction": "IN"}) == "lab"
    assert kind_of(tmp_path / "profiles" / "x.yaml", None) == "profile"
    assert kind_of(tmp_path / "lab.yaml", {"name": "x"}) == "lab"
    assert kind_of(tmp_path / "other.yaml", {"name": "x"}) == "unknown"
    # a typo in the deciding key: the other keys decide
    assert kind_of(tmp_path / "mine.yaml", {"jurisdicton": "IN", "policy": {}}) == "lab"
    assert kind_of(tmp_path / "mine.yaml", {"stepz": [], "apps": [], "hooks": []}) == "profile"


def test_shipped_files_check_ok():
    results = check_files([ROOT / "lab.yaml", ROOT / "profiles"])
    assert all(r.ok for r in results), [r.errors for r in results if not r.ok]
    assert results[0].kind == "lab"
    assert {r.kind for r in results[1:]} == {"profile"}
    assert len(results) == 1 + len(list((ROOT / "profiles").glob("*.yaml")))


def test_results_carry_errors_with_positions(tmp_path):
    good = write(tmp_path / "good.yaml", "name: g\nsteps: [{idle: 1s}]\n")
    bad = write(tmp_path / "bad.yaml", "name: b\nsteps:\n  - launch: {package: 'com.x;reboot'}\n")
    results = check_files([good, bad])
    assert [r.ok for r in results] == [True, False]
    result = results[1]
    assert isinstance(result, CheckResult) and result.kind == "profile"
    assert result.errors == [
        f"{bad}:3:23: steps[0].launch.package: 'com.x;reboot' is not an Android package name: "
        "dot-separated segments (at least two), each starting with a letter, then letters, "
        "digits or _ (like com.example.app)"]
    data = result.as_dict()
    json.dumps(data)
    assert data["problems"][0] | {"message": None} == {
        "file": str(bad), "line": 3, "column": 23, "path": "steps[0].launch.package", "message": None}
    with pytest.raises(AttributeError):
        result.ok = True  # frozen


def test_unknown_kind_missing_file_and_syntax_error(tmp_path):
    neither = write(tmp_path / "neither.yaml", "name: x\n")
    broken = write(tmp_path / "lab.yaml", "name: [x\n")
    results = check_files([neither, tmp_path / "missing.yaml", broken])
    assert [r.ok for r in results] == [False, False, False]
    assert "cannot tell a lab file from a profile" in results[0].errors[0]
    assert results[1].errors == [f"{tmp_path / 'missing.yaml'}: no such file"]
    assert results[2].kind == "lab" and "YAML syntax error" in results[2].errors[0]


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no YAML files"):
        check_files([tmp_path])


def test_list_profiles(tmp_path):
    write(tmp_path / "a.yaml", "name: alpha\ndescription: >-\n  first\n  profile\nsteps: [{idle: 1m}]\n")
    write(tmp_path / "b.yml", "name: beta\nsteps: [{idle: 1s}, {wat: 1s}]\n")
    write(tmp_path / "notes.txt", "not a profile")
    rows = list_profiles(tmp_path)
    assert [r["name"] for r in rows] == ["alpha", "b"]
    assert rows[0] | {"path": None} == {
        "name": "alpha", "path": None, "description": "first profile", "steps": 1,
        "estimated_seconds": 60.0, "ok": True, "error": None}
    assert rows[1]["ok"] is False and "did you mean 'wait'" in rows[1]["error"]


def test_list_profiles_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        list_profiles(tmp_path / "nope")


def test_list_shipped_profiles():
    rows = list_profiles(ROOT / "profiles")
    assert {"demo", "idle-baseline", "app-audit", "firmware-regression"} <= {r["name"] for r in rows}
    assert all(r["ok"] and r["description"] for r in rows)
