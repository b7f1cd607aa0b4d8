"""`lab doctor` on virtual handsets, through the real adb server: a healthy handset passes
(exit 0); each fault, seeded one at a time on one handset as a technician would meet it,
is named with its fix (exit 3): no frida-server, a wrong-ABI binary, a wrong version, a CA
missing in an app's mount namespace, the screen locked, the loopback firewalled so the
proxy is unreachable; and an unauthorized handset (a handset of its own)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frida
import pytest
import yaml
from click.testing import CliRunner
from support.elf_files import server_bytes

from harness.cli.main import main
from harness.virtual.launcher import start_handset
from harness.virtual.spec import HANDSETS_DIR

pytestmark = pytest.mark.e2e
V = frida.__version__
SERVER = "/data/local/tmp/frida-server"
NOTES, WEATHER = "org.example.notes", "org.example.weather"  # weather: forked by an app zygote


def write_spec(folder: Path, base: str, **faults: Any) -> Path:
    data = yaml.safe_load((HANDSETS_DIR / f"{base}.yaml").read_text())
    data["faults"] = faults
    path = folder / f"{base}-doctor.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Phone:
    """The module's handset: its serial, its shell, lab doctor run against it."""

    def __init__(self, adb_server: Any, serial: str, lab: Path) -> None:
        self.adb, self.serial, self.lab = adb_server, serial, lab
        self.device = adb_server.client.device(serial)

    def sh(self, command: str) -> str:
        return self.device.shell(command, timeout=60)

    def push_server(self, abi: str, version: str) -> None:
        self.device.sync.push(io.BytesIO(server_bytes(abi, version)), SERVER, 0o755)

    def doctor(self, *more: str) -> tuple[int, dict[str, dict[str, Any]], str]:
        env = {"ANDROID_ADB_SERVER_PORT": str(self.adb.port), "ANDROID_SERIAL": None}
        text = CliRunner().invoke(main, ["doctor", "--lab", str(self.lab), "--device", self.serial, *more], env=env)
        as_json = CliRunner().invoke(main, ["doctor", "--lab", str(self.lab), "--device", self.serial, "--json"],
                                     env=env)
        assert as_json.exit_code == text.exit_code, (text.output, as_json.output)
        report = json.loads(as_json.stdout)
        assert report["exit_code"] == text.exit_code
        return text.exit_code, {c["name"]: c for c in report["checks"]}, text.output


@pytest.fixture(scope="module")
def phone(adb_server, tmp_path_factory) -> Iterator[Phone]:
    folder = tmp_path_factory.mktemp("doctor")
    handset = start_handset(write_spec(folder, "rooted-a14", app_zygote=[WEATHER]), folder / "handset")
    try:
        assert "connected" in adb_server.run("connect", handset.serial, timeout=30).stdout
        adb_server.run("-s", handset.serial, "wait-for-device", timeout=30, check=True)
        lab = folder / "lab.yaml"
        lab.write_text(yaml.safe_dump({"name": "Doctor", "jurisdiction": "IN", "state_dir": str(folder / "state"),
                                       "devices": [{"serial": handset.serial, "frida": "local"}]}))
        phone = Phone(adb_server, handset.serial, lab)
        phone.push_server("arm64-v8a", V)  # what a technician installs once
        phone.sh(f"am start -n {NOTES}/.MainActivity")  # an app to attach to and look into
        yield phone
    finally:
        adb_server.run("disconnect", handset.serial, timeout=10)
        handset.stop()


def failed(checks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: c for name, c in checks.items() if c["status"] == "fail"}


def test_a_healthy_handset_passes(phone):
    store = phone.sh("ls /apex/com.android.conscrypt/cacerts; mount")
    code, checks, text = phone.doctor()
    assert code == 0, text
    assert {c["status"] for c in checks.values()} == {"pass", "not applicable"}
    assert checks["capture path (WireGuard)"]["status"] == "not applicable"
    assert checks["frida-server"]["summary"] == f"{SERVER} is frida-server {V} for arm64-v8a"
    assert "Java bridge works in org.example.notes" in checks["java bridge"]["summary"]
    assert "inside 2 zygote and 3 app mount namespace(s)" in checks["ca"]["summary"]
    assert text.splitlines()[-1] == "all checks passed"
    assert phone.sh("ls /apex/com.android.conscrypt/cacerts; mount") == store  # the probe CA is gone
    assert phone.device.reverse_list() == []


@pytest.mark.parametrize(("seed", "summary", "fix"), [
    (lambda p: p.sh(f"rm {SERVER}"), f"no frida-server at {SERVER}, and lab.yaml names none",
     f"download frida-server-{V}-android-arm64.xz"),
    (lambda p: p.push_server("x86_64", V),
     f"{SERVER} is a 64-bit x86-64 ELF (x86_64), but the handset is arm64-v8a", "frida-server-"),
    (lambda p: p.push_server("arm64-v8a", "16.1.4"),
     f"{SERVER} is frida-server 16.1.4, but the Python frida is {V}", "releases/tag/"),
], ids=["absent", "wrong-abi", "wrong-version"])
def test_a_frida_server_fault_is_named(phone, seed, summary, fix):
    seed(phone)
    try:
        code, checks, text = phone.doctor()
    finally:
        phone.push_server("arm64-v8a", V)
    assert code == 3 and set(failed(checks)) == {"frida-server"}, text
    assert checks["frida-server"]["summary"] == summary
    assert fix in checks["frida-server"]["fix"]
    assert f"[FAIL] frida-server: {summary}" in text


def test_a_ca_missing_in_an_app_namespace_is_named(phone):
    phone.sh(f"am start -n {WEATHER}/.MainActivity")
    pid = phone.sh(f"pidof {WEATHER}").strip()
    try:
        code, checks, text = phone.doctor()
    finally:
        phone.sh(f"am force-stop {WEATHER}")
    assert code == 3 and set(failed(checks)) == {"ca"}, text
    summary = checks["ca"]["summary"]
    assert "the CA is missing in the mount namespace of 1 app process(es)" in summary
    assert f"{pid} {WEATHER} (parent " in summary and f"{WEATHER}_zygote)" in summary
    assert f"`adb shell am force-stop {WEATHER}`" in checks["ca"]["fix"]
    assert checks["ca"]["details"]["missing"] == [int(pid)]


def test_a_locked_screen_is_named(phone):
    phone.sh("locksettings set-disabled false")
    phone.sh("input keyevent KEYCODE_POWER")
    try:
        code, checks, text = phone.doctor()
        assert code == 3 and set(failed(checks)) == {"screen"}, text
        assert checks["screen"]["summary"].startswith("the screen is off and locked")
        assert "input keyevent KEYCODE_WAKEUP" in checks["screen"]["fix"]
        phone.sh("input keyevent KEYCODE_WAKEUP")
        code, checks, text = phone.doctor()
        assert code == 3 and checks["screen"]["summary"].startswith("the lock screen is showing"), text
        assert "`adb shell wm dismiss-keyguard`" in checks["screen"]["fix"]
        phone.sh("wm dismiss-keyguard")
        assert phone.doctor()[0] == 0
    finally:
        phone.sh("input keyevent KEYCODE_WAKEUP; wm dismiss-keyguard; locksettings set-disabled true")


def test_an_unreachable_proxy_is_named(phone):
    rule = "OUTPUT -o lo -p tcp -j REJECT"  # what a firewall app on the phone does
    phone.sh(f"su -c 'iptables -A {rule}'")
    try:
        code, checks, text = phone.doctor()
    finally:
        phone.sh(f"su -c 'iptables -D {rule}'")
    assert code == 3 and set(failed(checks)) == {"capture path"}, text
    assert "did not reach this computer through adb reverse (nc: connect: Connection refused)" in \
        checks["capture path"]["summary"]
    assert "iptables -S OUTPUT" in checks["capture path"]["fix"]
    assert phone.device.reverse_list() == []


def test_an_unauthorized_handset_is_named(adb_server, tmp_path):
    spec = write_spec(tmp_path, "reference", adb_unauthorized=True)
    handset = start_handset(spec, tmp_path / "handset")
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump({"name": "Doctor", "jurisdiction": "IN", "state_dir": str(tmp_path / "state")}))
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "ANDROID_SERIAL": None}
    try:
        adb_server.run("connect", handset.serial, timeout=30)
        for target in (handset.serial, f"virtual:{spec}"):
            result = CliRunner().invoke(main, ["doctor", "--lab", str(lab), "--device", target, "--json"], env=env)
            report = json.loads(result.stdout)
            assert result.exit_code == 3 and [c["name"] for c in report["checks"]] == ["adb"], result.output
            adb = report["checks"][0]
            assert adb["status"] == "fail" and "unauthorized" in adb["summary"]
            assert "Allow USB debugging?" in adb["fix"]
    finally:
        adb_server.run("disconnect", handset.serial, timeout=10)
        handset.stop()


def test_a_healthy_android_13_handset_started_by_the_doctor_passes(adb_server, tmp_path):
    """virtual:NAME is started and stopped by lab doctor; SDK 33: the CA goes on the tmpfs
    over /system/etc/security/cacerts; lab.yaml names a folder of frida-server assets."""
    assets = tmp_path / "frida"
    assets.mkdir()
    for abi in ("arm64-v8a", "x86_64"):
        (assets / f"frida-server-{V}-android-{'arm64' if abi == 'arm64-v8a' else abi}").write_bytes(
            server_bytes(abi, V))
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump({"name": "Doctor", "jurisdiction": "IN", "state_dir": str(tmp_path / "state"),
                                   "devices": [{"serial": "virtual:vendor-1.0", "frida": "local",
                                                "frida_server": str(assets)}]}))
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "ANDROID_SERIAL": None}
    result = CliRunner().invoke(main, ["doctor", "--lab", str(lab), "--json"], env=env)
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert result.exit_code == 0, result.output
    assert report["device"]["sdk"] == 33
    assert checks["frida-server"]["summary"] == (f"frida-server-{V}-android-arm64 (lab.yaml) is frida-server {V} "
                                                 "for arm64-v8a; `lab run` pushes it")
    assert checks["ca"]["details"]["store"] == "/system/etc/security/cacerts"
    assert checks["ca"]["details"]["apps"] >= 2  # the firmware's services, started at boot
    assert checks["java bridge"]["status"] == "pass"
    # proxy.mode auto: the handset has the WireGuard app, so the tunnel is the capture path
    assert checks["capture path"]["status"] == "not applicable"
    assert checks["capture path (WireGuard)"]["status"] == "pass"
    assert report["serial"] not in adb_server.run("devices", timeout=10).stdout  # stopped, disconnected
