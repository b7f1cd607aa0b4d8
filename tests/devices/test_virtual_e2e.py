"""The handset layer against virtual handsets, through the real adb server and adbutils.

prepare -> restore leaves the handset's full state dump byte-identical, also when the
preparing process is killed with SIGKILL and `lab restore` runs; the CA lands where the
handset's Android version reads it; `lab devices --json` lists handsets with fingerprints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import frida
import pytest
from click.testing import CliRunner
from support.device_ca import make_ca
from support.elf_files import server_bytes

from harness.cli.main import main
from harness.config.lab import LabConfig
from harness.devices import after_reboot, attached, device_entry, open_device, prepare, restore
from harness.devices.ca import APEX_CACERTS, SYSTEM_CACERTS, CaMethod, cert_pem, subject_hash_old
from harness.devices.handset import read_info
from harness.devices.journal import Journal, JournalStatus, state_journal_path
from harness.errors import InstrumentError

pytestmark = pytest.mark.e2e
LAB = sys.executable.replace("python", "lab") if os.path.exists(sys.executable.replace("python", "lab")) else "lab"


@pytest.fixture
def adb_env(adb_server, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    return adb_server


def fake_frida_server(tmp_path: Path, version: str = frida.__version__) -> Path:
    """An arm64 ELF header (the virtual handsets' ABI) and the version the virtual handset
    reads a pushed frida-server's `--version` from."""
    path = tmp_path / f"frida-server-{version}"
    path.write_bytes(server_bytes("arm64-v8a", version) + os.urandom(64))
    return path


def lab_config(tmp_path: Path, serial: str, version: str = frida.__version__) -> LabConfig:
    return LabConfig.model_validate({
        "name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state",
        "devices": [{"serial": serial, "frida": "usb", "frida_server": fake_frida_server(tmp_path, version)}]})


def test_lab_devices_json_lists_both_vendor_firmwares(virtual_handset, adb_env):
    one, two = virtual_handset("vendor-1.0"), virtual_handset("vendor-1.1")
    result = CliRunner().invoke(main, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    listed = {d["serial"]: d for d in json.loads(result.stdout)}
    for handset in (one, two):
        fingerprint = handset.shell("getprop ro.build.fingerprint")[0].strip()
        assert listed[handset.serial]["fingerprint"] == fingerprint
        assert listed[handset.serial]["sdk"] == 33 and listed[handset.serial]["rooted"] is True
    assert listed[one.serial]["fingerprint"] != listed[two.serial]["fingerprint"]
    table = CliRunner().invoke(main, ["devices"])
    assert table.exit_code == 0 and one.serial in table.output and "VC-8" in table.output


@pytest.mark.parametrize(("name", "store", "method"), [
    ("vendor-1.0", SYSTEM_CACERTS, CaMethod.SYSTEM_TMPFS),
    ("rooted-a14", APEX_CACERTS, CaMethod.SYSTEM_APEX),
    ("rooted-a16", APEX_CACERTS, CaMethod.SYSTEM_APEX),
])
def test_prepare_then_restore_is_byte_identical(virtual_handset, adb_env, tmp_path, name, store, method):
    vh = virtual_handset(name)
    before = vh.state_dump()
    pem = make_ca("mitmproxy")
    lab = lab_config(tmp_path, vh.serial)
    handset = open_device(vh.serial, lab, client=adb_env.client)
    capture = tmp_path / "capture"
    prepared = prepare(handset, lab, None, 18080, pem, capture, entry=device_entry(lab, vh.serial))
    assert prepared.ca_method == method
    assert prepared.frida_server_version == frida.__version__
    assert vh.shell("pidof frida-server")[0].split()
    assert read_info(handset).frida_server_version == frida.__version__
    name_0 = subject_hash_old(pem) + ".0"
    # the CA is where this Android version reads it (and the legacy path too)
    assert vh.shell(f"cat {store}/{name_0}")[0].strip() == cert_pem(pem).decode().strip()
    assert vh.shell("settings get global http_proxy")[0].strip() == "127.0.0.1:18080"
    assert "tcp:18080 tcp:18080" in vh.state_dump()["reverse"]
    canaries = json.loads((capture / "canaries.json").read_text())
    ids = canaries["identifiers"]
    assert len(ids["imei"]) == 15 and ids["imei"].isdigit() and ids["imsi"].isdigit()
    assert ids["android_id"] == vh.shell("settings get secure android_id")[0].strip()
    assert ids["serial"] and ids["wifi_mac"] and ids["bt_mac"]
    planted = {c["type"]: c["value"] for c in canaries["planted"]}
    assert {"contact", "sms", "clipboard", "location"} <= set(planted)
    assert planted["contact"] in vh.state_dump()["contacts"]
    assert {n["type"] for n in canaries["not_planted"]} == {"account"}
    journal = json.loads((capture / "journal.json").read_text())
    assert journal["status"] == "prepared"
    assert [e["kind"] for e in journal["entries"]][:4] == ["ca", "reverse", "http_proxy", "frida_server"]
    assert vh.state_dump() != before

    restore(handset, prepared.journal)
    assert vh.state_dump() == before
    assert vh.shell("pidof frida-server") == ("", 1)
    restore(handset, Journal.load(state_journal_path(lab.state_dir, vh.serial)))  # idempotent
    assert vh.state_dump() == before
    assert Journal.load(capture / "journal.json").status == JournalStatus.RESTORED


KILL_POINTS = {
    "ca": r'"kind": "ca"',  # the CA entry is journaled, little or nothing of it done yet
    "ca-mounted": r'"namespaces": \[\s*\d',  # tmpfs + APEX bind done, zygote namespaces next
}


def _kill_when(proc: subprocess.Popen, journal: Path, kill_at: str | None, timeout: float = 60) -> None:
    """SIGKILL `proc` as soon as its journal reaches `kill_at` (None: let it finish)."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(KILL_POINTS[kill_at]) if kill_at else None
    while time.monotonic() < deadline:
        if pattern is None:
            if proc.poll() is not None:
                return
        else:
            try:
                text = journal.read_text()
            except OSError:
                text = ""
            if pattern.search(text):
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                return
            if proc.poll() is not None:
                pytest.fail(f"prepare ended before {kill_at}: {proc.stderr.read().decode()}")
        time.sleep(0.002)
    proc.kill()
    pytest.fail("prepare did not get there in time")


@pytest.mark.parametrize("kill_at", ["ca", "ca-mounted", None])
def test_sigkilled_prepare_is_undone_by_lab_restore(virtual_handset, adb_env, tmp_path, kill_at):
    vh = virtual_handset("rooted-a14")
    before = vh.state_dump()
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\ndevices:\n"
                        f"  - serial: '{vh.serial}'\n    frida_server: {fake_frida_server(tmp_path)}\n")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(make_ca("mitmproxy"))
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb_env.port)}
    proc = subprocess.Popen([LAB, "prepare", "--lab", str(lab_file), "--device", vh.serial, "--proxy-port",
                             "18081", "--ca", str(ca), "--out", str(tmp_path / "cap")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _kill_when(proc, tmp_path / "state" / "journals" / f"{vh.serial.replace(':', '_')}.json", kill_at)
    if kill_at is not None:
        assert proc.returncode == -signal.SIGKILL
        killed = vh.state_dump()
        # killed within the CA step, the first change: the handset is not pointed at the
        # proxy yet (the CA's own files may be there: the push may have begun)
        assert (killed["settings"], killed["reverse"]) == (before["settings"], before["reverse"])
        if kill_at == "ca-mounted":  # killed with the overlay and the APEX bind in place
            assert "on /apex/com.android.conscrypt/cacerts type tmpfs" in killed["mounts"]
    else:
        assert proc.returncode == 0, proc.stderr.read().decode()
    if kill_at is None:  # a second prepare refuses while the journal is pending
        again = subprocess.run([LAB, "prepare", "--lab", str(lab_file), "--device", vh.serial],
                               env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 3 and "lab restore" in again.stderr
    done = subprocess.run([LAB, "restore", "--lab", str(lab_file), vh.serial], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert vh.state_dump() == before
    if kill_at == "ca":
        again = subprocess.run([LAB, "restore", "--lab", str(lab_file)], env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 0 and "nothing to restore" in again.stdout


def test_frida_server_of_another_version_is_refused(virtual_handset, adb_env, tmp_path):
    vh = virtual_handset("vendor-1.0")
    before = vh.state_dump()
    lab = lab_config(tmp_path, vh.serial, version="16.1.4")
    handset = open_device(vh.serial, lab, client=adb_env.client)
    with pytest.raises(InstrumentError) as err:
        prepare(handset, lab, None, 18082, None, tmp_path / "cap", entry=device_entry(lab, vh.serial))
    assert "16.1.4" in str(err.value) and f"frida-server-{frida.__version__}-android-arm64" in str(err.value)
    assert vh.state_dump() == before  # what prepare did before the refusal was undone
    assert vh.shell("ls /data/local/tmp/frida-server")[1] != 0


def test_unrooted_handset_gets_the_user_store_note_and_restores(virtual_handset, adb_env, tmp_path):
    vh = virtual_handset("reference")
    before = vh.state_dump()
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    handset = open_device(vh.serial, lab, client=adb_env.client)
    assert handset.info.rooted is False
    prepared = prepare(handset, lab, None, 18083, make_ca("mitmproxy"), tmp_path / "cap", frida=False)
    assert prepared.ca_method == CaMethod.USER_MANUAL
    assert any("not rooted" in n and "Android 7+" in n for n in prepared.journal.notes)
    not_planted = {n["type"]: n["reason"] for n in prepared.canaries.not_planted}
    assert "sms" in not_planted and "root" in not_planted["sms"]
    assert vh.state_dump() != before
    restore(handset, prepared.journal)
    assert vh.state_dump() == before


def test_virtual_serial_starts_connects_and_stops_a_handset(adb_env, tmp_path):
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    handset = open_device("virtual:vendor-1.1", lab, client=adb_env.client)
    try:
        assert handset.virtual is not None and handset.serial == handset.virtual.serial
        assert handset.info.fingerprint and handset.info.model == "VC-8 Pro"
        assert any(a.serial == handset.serial and a.state == "device" for a in attached(adb_env.client))
    finally:
        pid = handset.virtual.pid
        handset.close()
    assert handset.virtual is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_handset_lost_mid_prepare_keeps_the_journal(virtual_handset, adb_env, tmp_path):
    vh = virtual_handset("rooted-a14")
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(make_ca("mitmproxy"))
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb_env.port)}
    journal = tmp_path / "state" / "journals" / f"{vh.serial.replace(':', '_')}.json"
    proc = subprocess.Popen([LAB, "prepare", "--lab", str(lab_file), "--device", vh.serial, "--proxy-port",
                             "18084", "--ca", str(ca), "--no-frida"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while '"kind": "reverse"' not in (journal.read_text() if journal.exists() else ""):  # the CA is in
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    vh.process.stop()  # the phone is unplugged
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    text = err.decode()
    assert "lab restore" in text and "done: ca" in text
    assert "Traceback" not in text
    kept = Journal.load(journal)
    assert kept.pending and [e.kind for e in kept.entries][:2] == ["ca", "reverse"]
    done = subprocess.run([LAB, "restore", "--lab", str(lab_file)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3 and vh.serial in done.stderr and "kept" in done.stderr


def test_reboot_drops_mounts_and_forwards_after_reboot_reapplies(virtual_handset, adb_env, tmp_path):
    vh = virtual_handset("rooted-a14")
    pem = make_ca("mitmproxy")
    target = f"{APEX_CACERTS}/{subject_hash_old(pem)}.0"
    lab = lab_config(tmp_path, vh.serial)
    handset = open_device(vh.serial, lab, client=adb_env.client)
    prepared = prepare(handset, lab, None, 18085, pem, tmp_path / "cap", entry=device_entry(lab, vh.serial),
                       canaries=False)
    handset.reboot(timeout=60)
    assert vh.shell(f"ls {target}")[1] != 0 and vh.state_dump()["reverse"] == []
    after_reboot(handset, prepared, 18085, pem)
    assert vh.shell(f"cat {target}")[0].strip() == cert_pem(pem).decode().strip()
    assert vh.state_dump()["reverse"] == ["tcp:18085 tcp:18085"]
    assert vh.shell("pidof frida-server")[0].split()
    restore(handset, prepared.journal)
    dump = vh.state_dump()
    assert "127.0.0.1:18085" not in dump["settings"]["global"] and dump["reverse"] == []
    assert "cacerts type tmpfs" not in dump["mounts"] and vh.shell(f"ls {target}")[1] != 0
    assert vh.shell("pidof frida-server") == ("", 1)
    assert vh.shell("ls /data/local/tmp/frida-server")[1] != 0


def test_previous_proxy_and_reverse_forwards_are_put_back(virtual_handset, adb_env, tmp_path):
    vh = virtual_handset("vendor-1.1")
    vh.shell("settings put global http_proxy 10.0.2.2:8080")
    vh.device.reverse("tcp:18086", "tcp:9999")  # someone else's forward on our port
    vh.device.reverse("tcp:18087", "tcp:18087")  # and an unrelated one
    before = vh.state_dump()
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    handset = open_device(vh.serial, lab, client=adb_env.client)
    prepared = prepare(handset, lab, None, 18086, None, None, frida=False, canaries=False)
    assert prepared.journal.entries[0].undo == {"remote": "tcp:18086", "local": "tcp:18086",
                                                "previous_local": "tcp:9999"}
    assert prepared.journal.entries[1].undo == {"previous": "10.0.2.2:8080"}
    assert (tmp_path / "state" / "canaries").is_dir()  # no capture folder: canaries.json in the state folder
    restore(handset, prepared.journal)
    assert vh.state_dump() == before
