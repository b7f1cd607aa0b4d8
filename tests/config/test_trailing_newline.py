"""A trailing newline is not part of a valid value (`$` matches before it): `lab config check`
refuses it in every validated profile and lab.yaml field, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import main

LAB = "name: t\njurisdiction: IN\n"

TRAILING_NEWLINE_PROFILE = {
    "apps[0].package": 'apps:\n  - package: "com.x\\n"\n',
    "apps[0].grant[0]": 'apps:\n  - package: com.x.y\n    grant: ["android.permission.CAMERA\\n"]\n',
    "unpin[0]": 'unpin: ["com.x\\n"]\n',
    "steps[1].launch.package": 'steps:\n  - idle: 1s\n  - launch: {package: "com.x\\n"}\n',
    "steps[1].launch.activity": 'steps:\n  - idle: 1s\n  - launch: {package: com.x.y, activity: ".Main\\n"}\n',
    "steps[1].input.text": 'steps:\n  - idle: 1s\n  - input: {text: "hello\\n"}\n',
    "steps[1].input.keyevent": 'steps:\n  - idle: 1s\n  - input: {keyevent: "KEYCODE_HOME\\n"}\n',
    "steps[1].intent.action": 'steps:\n  - idle: 1s\n  - intent: {action: "android.intent.action.VIEW\\n"}\n',
    "steps[1].intent.data": 'steps:\n  - idle: 1s\n  - intent: {action: a.b, data: "https://x.example/\\n"}\n',
    "name": 'name: "p\\n"\nsteps:\n  - idle: 1s\n',
}
TRAILING_NEWLINE_LAB = {
    "devices[0].serial": 'devices:\n  - serial: "emulator-5554\\n"\n',
    "policy.allowed_domains[0]": 'policy:\n  allowed_domains: ["example.com\\n"]\n',
    "canaries.prefix": 'canaries:\n  prefix: "CANARY\\n"\n',
    "proxy.auth": 'proxy:\n  listen_host: 10.0.0.1\n  auth: "user:secret\\n"\n',
}


def check_one(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2, (text, result.output, result.exception)
    return result.stdout


@pytest.mark.parametrize("key", TRAILING_NEWLINE_PROFILE, ids=list(TRAILING_NEWLINE_PROFILE))
def test_config_check_refuses_a_trailing_newline_in_a_profile(tmp_path, key):
    text = TRAILING_NEWLINE_PROFILE[key]
    if not text.startswith("name:"):
        text = "name: p\n" + text + ("" if "steps:" in text else "steps:\n  - idle: 1s\n")
    out = check_one(tmp_path, "p.yaml", text)
    assert f": {key}: " in out, out


@pytest.mark.parametrize("key", TRAILING_NEWLINE_LAB, ids=list(TRAILING_NEWLINE_LAB))
def test_config_check_refuses_a_trailing_newline_in_lab_yaml(tmp_path, key):
    out = check_one(tmp_path, "lab.yaml", LAB + TRAILING_NEWLINE_LAB[key])
    assert f": {key}: " in out, out
