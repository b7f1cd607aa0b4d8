"""Hostile profile values are refused before any adb call.

The handset here is a tripwire: an "adb server" socket that records every connection.
Each hostile call must raise UnsafeValueError (or ConfigError at profile load) and leave
the tripwire untouched.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from adbutils import AdbClient
from click.testing import CliRunner

from harness.cli.main import main
from harness.config.lab import LabConfig
from harness.devices import apps
from harness.devices.handset import Handset
from harness.devices.journal import Journal
from harness.devices.proxy_setting import undo_http_proxy
from harness.errors import UnsafeValueError


class Tripwire:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tripwire():
    wire = Tripwire()
    yield wire
    wire.close()


@pytest.fixture
def handset(tripwire):
    return Handset(AdbClient(host="127.0.0.1", port=tripwire.port), "127.0.0.1:5555")


HOSTILE_PACKAGES = ["x;reboot", "com.a.b;reboot", "com.a.b && reboot", "$(reboot)", "com.a.b\nreboot"]


@pytest.mark.parametrize("package", HOSTILE_PACKAGES)
def test_hostile_packages_never_reach_the_handset(handset, tripwire, tmp_path, package):
    journal = Journal.create("s", tmp_path)
    calls = [
        lambda: apps.launch(handset, package),
        lambda: apps.launch(handset, "com.ok.app", f".Main;{package}"),
        lambda: apps.stop(handset, package),
        lambda: apps.pidof(handset, package),
        lambda: apps.uid(handset, package),
        lambda: apps.version(handset, package),
        lambda: apps.monkey(handset, package, 10, 1, 0),
        lambda: apps.intent(handset, "android.intent.action.VIEW", None, package),
        lambda: apps.set_permissions(handset, journal, package, ["android.permission.CAMERA"], []),
        lambda: apps.set_permissions(handset, journal, "com.ok.app", [f"android.permission.X;{package}"], []),
        lambda: apps.uninstall(handset, package),
    ]
    for call in calls:
        with pytest.raises(UnsafeValueError):
            call()
    assert tripwire.connections == 0


@pytest.mark.parametrize("text", ["tab\tx", "new\nline", "x" * 600, "ünïcode"])
def test_hostile_texts_and_keys(handset, tripwire, text):
    with pytest.raises(UnsafeValueError):
        apps.text(handset, text)
    with pytest.raises(UnsafeValueError):
        apps.keyevent(handset, "HOME;reboot")
    with pytest.raises(UnsafeValueError):
        apps.intent(handset, "android.intent.action.VIEW", "http://x/ $(reboot)")
    assert tripwire.connections == 0


@pytest.mark.parametrize("path", ["/data/local/tmp/x;reboot", "relative", "/sdcard/../system/x", "/a b"])
def test_hostile_paths(handset, tripwire, path):
    with pytest.raises(UnsafeValueError):
        handset.push_bytes(b"x", path)
    with pytest.raises(UnsafeValueError):
        handset.exists(path)
    assert tripwire.connections == 0


def test_hostile_journal_values_refused_at_restore(handset, tripwire):
    """A tampered journal is untrusted input too."""
    from harness.devices.canaries import undo_contact
    from harness.devices.frida_server import undo_frida_server

    with pytest.raises(UnsafeValueError):
        undo_contact(handset, {"raw_contact_id": None, "marker": "x' OR 1=1; reboot"})
    with pytest.raises(UnsafeValueError):
        undo_frida_server(handset, {"started_pids": ["1; reboot"]})
    with pytest.raises(UnsafeValueError):
        undo_http_proxy(handset, {"previous": "1.2.3.4:80; reboot"})
    assert tripwire.connections == 0


def test_hostile_profile_refused_by_lab_prepare(tmp_path, tripwire, monkeypatch):
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n")
    LabConfig.model_validate({"name": "t", "jurisdiction": "IN"})
    profile = tmp_path / "evil.yaml"
    profile.write_text("name: evil\napps:\n  - package: 'x;reboot'\nsteps:\n  - wait: 1s\n")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(tripwire.port))
    result = CliRunner().invoke(main, ["prepare", "--lab", str(lab), "--profile", str(profile)])
    assert result.exit_code == 2, result.output
    assert "x;reboot" in result.output and "package" in result.output
    assert tripwire.connections == 0
    assert not Path(tmp_path / "state").exists()
