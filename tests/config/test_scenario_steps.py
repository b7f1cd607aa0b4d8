"""The scenario steps (settings, sim, account, prompt): accepted forms, and every bad value
refused with file:line:column and its key path."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from harness.config import AccountAction, SimAction, load_profile, step_kind
from harness.config.lab import ConfigProblems
from harness.config.schema import schemas

GOOD = """\
name: p
steps:
  - settings: open
  - settings: {location: on, wifi: off, bluetooth: true, airplane_mode: false}
  - settings: {open: true, location: off}
  - sim: insert
  - sim: {action: remove, timeout: 2m}
  - account: sign-in
  - account: {action: sign-out, name: lab.tester@example.com, type: com.vendor.account}
  - prompt: Plug the charger in
  - prompt: {message: "Wait for the setup wizard; then press Enter", timeout: 30s}
"""


def test_accepted_forms(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(GOOD)
    steps = load_profile(path).steps
    assert [step_kind(s) for s in steps] == ["settings"] * 3 + ["sim"] * 2 + ["account"] * 2 + ["prompt"] * 2
    assert steps[0].settings.open and steps[0].settings.switches() == []
    assert steps[1].settings.switches() == [("location", True), ("wifi", False), ("bluetooth", True),
                                            ("airplane_mode", False)]
    assert steps[2].settings.open and steps[2].settings.switches() == [("location", False)]
    assert (steps[3].sim.action, steps[3].sim.timeout) == (SimAction.INSERT, 300.0)
    assert (steps[4].sim.action, steps[4].sim.timeout) == (SimAction.REMOVE, 120.0)
    assert (steps[5].account.action, steps[5].account.name, steps[5].account.type) == (
        AccountAction.SIGN_IN, None, "com.google")
    assert steps[6].account.name == "lab.tester@example.com"
    assert steps[7].prompt.message == "Plug the charger in" and steps[8].prompt.timeout == 30.0
    assert load_profile(path).estimated_seconds() == 0.0  # a technician's timeout is no planned time


BAD = [
    ("  - settings: close\n", ":3:15: steps[0].settings: ", "settings takes `open`"),
    ("  - settings: {}\n", ":3:15: steps[0].settings: ", "settings does nothing"),
    ("  - settings:\n", ":3:14: steps[0].settings: ", "settings needs a value"),
    ("  - settings: {location: maybe}\n", ":3:26: steps[0].settings.location: ", "valid boolean"),
    ("  - settings: {locaton: on}\n", ":3:16: steps[0].settings.locaton: ", "did you mean 'location'"),
    ("  - sim: insrt\n", ":3:10: steps[0].sim.action: ", "'insert' or 'remove'"),
    ("  - sim:\n", ":3:9: steps[0].sim: ", "sim needs an action"),
    ("  - sim\n", ":3:5: steps[0]: ", "step 'sim' needs a value, like: - sim: insert"),
    ("  - sim: {action: insert, timeout: soon}\n", ":3:36: steps[0].sim.timeout: ", "not a duration"),
    ("  - sim: {action: insert, slot: 2}\n", ":3:27: steps[0].sim.slot: ", "unknown key 'slot'"),
    ("  - account: login\n", ":3:14: steps[0].account.action: ", "'sign-in' or 'sign-out'"),
    ("  - account: {action: sign-in, name: 'a b'}\n", ":3:38: steps[0].account.name: ", "not an account name"),
    ("  - account: {action: sign-in, name: \"x\\n\"}\n", ":3:38: steps[0].account.name: ", "not an account name"),
    ("  - account: {action: sign-in, type: google}\n", ":3:38: steps[0].account.type: ", "not an account type"),
    ("  - prompt: ''\n", ":3:13: steps[0].prompt.message: ", "one line of text"),
    ("  - prompt: \"two\\nlines\"\n", ":3:13: steps[0].prompt.message: ", "one line of text"),
    ("  - prompt: " + "x" * 501 + "\n", ":3:13: steps[0].prompt.message: ", "at most 500"),
    ("  - prompt: {message: hi, timeout: -1}\n", ":3:36: steps[0].prompt.timeout: ", "cannot be negative"),
    ("  - prompt: {messsage: hi}\n", ":3:14: steps[0].prompt.messsage: ", "did you mean 'message'"),
    ("  - prompt: Go\n    phase: 'a b'\n", ":4:12: steps[0].phase: ", "not a phase name"),
    ("  - promt: Go\n", ":3:5: steps[0].promt: ", "did you mean 'prompt'"),
]


@pytest.mark.parametrize(("step", "where", "fragment"), BAD, ids=[b[0].strip()[:40] for b in BAD])
def test_bad_values_name_file_line_and_key(tmp_path, step, where, fragment):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nsteps:\n" + step)
    with pytest.raises(ConfigProblems) as info:
        load_profile(path)
    found = [str(p) for p in info.value.problems]
    assert any(p.startswith(f"{path}{where}") and fragment in p for p in found), found


def test_config_check_reports_them_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from harness.cli.main import main

    path = tmp_path / "p.yaml"
    path.write_text("name: p\nsteps:\n  - sim: eject\n")
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2 and f"{path}:3:10: steps[0].sim.action:" in result.output


@pytest.mark.parametrize(("step", "ok"), [
    ({"settings": "open"}, True), ({"settings": {"location": True}}, True), ({"settings": "close"}, False),
    ({"sim": "insert"}, True), ({"sim": {"action": "remove", "timeout": "5m"}}, True), ({"sim": "eject"}, False),
    ({"account": "sign-in"}, True), ({"account": {"action": "sign-out", "name": "a@b.example"}}, True),
    ({"account": "login"}, False), ({"prompt": "Plug it in", "phase": "setup"}, True),
    ({"prompt": ""}, False), ({"prompt": {"message": "x", "timeout": "1m"}}, True),
], ids=str)
def test_schema_agrees(step, ok):
    validator = jsonschema.Draft202012Validator(schemas()["profile"])
    assert validator.is_valid({"name": "p", "steps": [step]}) is ok


def test_the_shipped_firmware_audit_profile_validates():
    profile = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "firmware-audit.yaml")
    assert profile.name == "firmware-audit"
