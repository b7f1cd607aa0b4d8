"""Manual steps in a real `lab run` on a virtual handset: asked on the terminal the run
was started from (a pseudo-terminal), confirmed with Enter, timed out, or not waited for
at all with --yes; each recorded with its times in run.json's step entry."""

from __future__ import annotations

import json
import os
import time

import pytest
from support.terminal import read_until

pytestmark = pytest.mark.e2e

PROFILE = {
    "name": "prompts",
    "description": "Two manual steps.",
    "steps": [
        {"prompt": "Plug the charger in", "phase": "setup"},
        {"prompt": {"message": "Nobody answers this one", "timeout": "1s"}, "phase": "setup"},
        {"sim": "insert", "phase": "sim"},
    ],
}


def test_a_run_on_a_terminal_asks_and_records_the_answers(tmp_path, adb_env, lab_files):
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None,
                      PROFILE)
    proc, master = files.interactive("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--quiet", "--json")
    try:
        shown = read_until(master, b"press Enter when done", 120)
        assert b">>> Plug the charger in" in shown, shown[-2000:]
        time.sleep(0.5)
        os.write(master, b"\n")
        rest = read_until(master, b'"run_dir"', 120)
        assert proc.wait(60) == 0, rest[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    (run,) = files.runs()
    steps = json.loads((run / "run.json").read_text())["steps"]
    confirmed, unanswered, sim = steps
    assert confirmed["status"] == "ok" and confirmed["prompt"]["confirmed"] is True
    assert confirmed["prompt"]["answered"] - confirmed["prompt"]["asked"] >= 0.4
    assert confirmed["start"] <= confirmed["prompt"]["asked"] < confirmed["prompt"]["answered"] <= confirmed["end"]
    assert unanswered["status"] == "skipped" and unanswered["error"] == "no confirmation within 0:01"
    assert unanswered["prompt"] == {**unanswered["prompt"], "confirmed": False, "answered": None,
                                    "message": "Nobody answers this one"}
    assert sim["status"] == "ok" and sim["prompt"] is None  # the virtual handset does it itself
    assert [s["phase"] for s in steps] == ["setup", "setup", "sim"]


def test_yes_never_waits(tmp_path, adb_env, lab_files):
    profile = {**PROFILE, "steps": [{"prompt": "Plug the charger in"}]}
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None,
                      profile)
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--quiet", "--json", "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    (run,) = files.runs()
    (step,) = json.loads((run / "run.json").read_text())["steps"]
    assert step["status"] == "skipped"
    assert step["error"] == "--yes: manual steps are not waited for"
    assert step["prompt"]["confirmed"] is False and step["end"] - step["start"] < 2
