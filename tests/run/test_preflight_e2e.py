"""`lab run` runs lab doctor's quick checks first: on a handset whose lock screen shows, a
profile that launches an app stops with the doctor's message (exit 3) before changing
anything, while one that only idles runs (the screen check warns: a phone in a drawer is
what an idle audit wants); the checks are kept in run.json's events; --skip-doctor runs
anyway; once the handset is unlocked the same run goes through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
PROFILE = {"name": "preflight", "steps": [{"launch": {"package": "org.example.notes", "wait": "1s"}}]}
IDLE = {"name": "idle-only", "steps": [{"idle": "1s"}, {"settings": {"location": "on"}}]}


def test_a_locked_handset_stops_the_run_before_it_changes_anything(tmp_path, adb_env, lab_files, virtual_handset):
    vh = virtual_handset("rooted-a14")
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": vh.serial, "frida": "local"}], vh.process.zone_path,
                      PROFILE)
    vh.shell("locksettings set-disabled false; input keyevent POWER; input keyevent WAKEUP")
    (files.root / "idle.yaml").write_text(json.dumps(IDLE))
    result = files.lab_cmd("run", "idle.yaml", "--device", vh.serial, "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    run = json.loads((Path(json.loads(result.stdout)[0]["run_dir"]) / "run.json").read_text())
    (doctor,) = [e for e in run["events"] if e["kind"] == "doctor"]
    (screen,) = [c for c in doctor["checks"] if c["name"] == "screen"]
    assert (doctor["status"], screen["status"]) == ("warn", "warn"), doctor
    assert screen["summary"] == "the lock screen is showing: no step of this profile needs the screen"
    known = set(files.runs())
    before = vh.state_dump()
    result = files.lab_cmd("run", "profile.yaml", "--device", vh.serial, "--quiet", "--json")
    assert result.returncode == 3, result.stderr + result.stdout
    (record,) = json.loads(result.stdout)
    assert record["status"] == "failed"
    assert record["error"].startswith("lab doctor: screen: the lock screen is showing")
    assert "(fix: unlock it: `adb shell wm dismiss-keyguard`" in record["error"]
    assert vh.state_dump() == before  # no CA, proxy, canary: nothing to restore
    assert Path(record["run_dir"]) in set(files.runs()) - known
    run = json.loads((Path(record["run_dir"]) / "run.json").read_text())
    (doctor,) = [e for e in run["events"] if e["kind"] == "doctor"]
    checks = {c["name"]: c["status"] for c in doctor["checks"]}
    assert doctor["status"] == "fail" and checks["screen"] == "fail" and checks["root"] == "pass"
    assert checks["frida-server"] == "not applicable"  # Frida's local device: no server needed
    assert "`lab run --skip-doctor` runs anyway" in record["error"]

    result = files.lab_cmd("run", "profile.yaml", "--device", vh.serial, "--quiet", "--json", "--skip-doctor")
    assert result.returncode == 0, result.stderr + result.stdout
    run = json.loads((Path(json.loads(result.stdout)[0]["run_dir"]) / "run.json").read_text())
    assert [e for e in run["events"] if e["kind"] == "doctor"] == []

    vh.shell("wm dismiss-keyguard")
    result = files.lab_cmd("run", "profile.yaml", "--device", vh.serial, "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    run = json.loads((Path(json.loads(result.stdout)[0]["run_dir"]) / "run.json").read_text())
    assert [e["status"] for e in run["events"] if e["kind"] == "doctor"] == ["pass"]
