"""A handset whose adbd answers CNXN with AUTH and never accepts a key, through the real
adb server: `adb connect` fails to authenticate, `adb devices` lists it as unauthorized,
`adb shell` says so; starting it as virtual:SPEC fails at once with DeviceOfflineError."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from harness.devices.virtual_launch import launch_virtual
from harness.errors import DeviceOfflineError
from harness.virtual.launcher import start_handset
from harness.virtual.spec import HANDSETS_DIR

pytestmark = pytest.mark.e2e


def unauthorized_spec(tmp_path: Path) -> Path:
    data = yaml.safe_load((HANDSETS_DIR / "reference.yaml").read_text())
    data["faults"] = {"adb_unauthorized": True}
    path = tmp_path / "unauthorized.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_unauthorized_handset_is_listed_as_such(adb_server, tmp_path):
    handset = start_handset(unauthorized_spec(tmp_path), tmp_path / "handset")
    try:
        assert adb_server.run("connect", handset.serial, timeout=30).stdout.strip() == (
            f"failed to authenticate to {handset.serial}")
        listed = adb_server.run("devices", timeout=10).stdout
        assert f"{handset.serial}\tunauthorized" in listed
        shell = adb_server.run("-s", handset.serial, "shell", "id", timeout=30)
        assert shell.returncode != 0 and "device unauthorized" in shell.stderr
        started = time.monotonic()
        with pytest.raises(DeviceOfflineError, match="is unauthorized: it answered with AUTH"):
            launch_virtual(adb_server.client, f"virtual:{unauthorized_spec(tmp_path)}", tmp_path / "runtime")
        assert time.monotonic() - started < 20  # not the 30 s wait for a handset that comes up
    finally:
        adb_server.run("disconnect", handset.serial, timeout=10)
        handset.stop()
