"""`lab run` with full capture (lab.yaml `proxy: {mode: wireguard, network: contained}`) on
a vendor-1.1 virtual handset: the run installs the tunnel through the WireGuard app instead
of the proxy setting and adb reverse, starts the profile once a flow came through it, and
records what only full capture sees, from apps that never read a proxy setting: the
partner's DNS lookup, the raw TCP push channel with the IMEI (base64), the ad SDK's UDP
beacon and the HTTP/3 location upload. Restore leaves the handset as it was."""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.full_capture import around_the_proxy
from support.terminal import read_until

from harness.capture.folder import iter_jsonl
from harness.cli.main import main
from harness.devices.journal import EntryState, Journal, JournalStatus, pending_journals
from harness.run import session as run_session
from harness.virtual.netns import unavailable_reason
from harness.virtual.spec import HANDSETS_DIR

REASON = unavailable_reason()
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")]

PROFILE = {
    "name": "full-capture",
    "description": "Nothing hooked: the ad SDK launched, location switched on, then idle.",
    "steps": [
        {"settings": {"location": "off"}},
        {"launch": {"package": "com.vendor.adsdk", "wait": "2s"}},
        {"settings": {"location": "on"}},
        {"idle": "8s"},
    ],
}
WIREGUARD_ENTRIES = ["wireguard_tunnel", "wireguard_settings", "wireguard_appop", "wireguard_setting",
                     "wireguard_setting", "wireguard_up"]
WIREGUARD_APP = {"name": "com.wireguard.android", "version_code": 502, "version_name": "1.0.20231018",
                 "activities": [".activity.MainActivity"]}


def _spec(tmp_path: Path, name: str, **changes) -> str:
    """A built-in handset's spec with changes (a fault, no root, an app), as a file."""
    spec = {**yaml.safe_load((HANDSETS_DIR / f"{name}.yaml").read_text()), **changes}
    path = tmp_path / f"{name}-changed.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def _state(handset) -> dict:
    """state_dump plus what the WireGuard procedure touches (app op, the app's files)."""
    wg_files = "su -c " + shlex.quote("ls -lZR /data/data/com.wireguard.android")
    return {**handset.state_dump(),
            "appops": handset.device.shell("appops get com.wireguard.android", timeout=60),
            "wireguard_files": handset.device.shell(wg_files, timeout=60)}


def test_lab_run_in_wireguard_mode_records_what_goes_around_the_proxy(tmp_path, adb_env, virtual_handset,
                                                                      lab_files):
    handset = virtual_handset("vendor-1.1")
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": handset.serial, "frida": "local"}],
                      handset.process.zone_path, PROFILE)
    files.set_proxy(mode="wireguard")
    before = _state(handset)

    result = files.lab_cmd("run", "profile.yaml", "--device", handset.serial, "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    (summary,) = json.loads(result.stdout)
    run = Path(summary["run_dir"])
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "ok", manifest["error"]
    assert manifest["proxy"]["mode"] == "wireguard"
    assert manifest["proxy"]["wireguard"]["endpoint"].startswith("127.0.0.1:")
    (tunnel,) = [e for e in manifest["events"] if e["kind"] == "wireguard_tunnel"]
    assert tunnel["up_after"] < manifest["steps"][0]["start"] - manifest["started"]

    seen = around_the_proxy(list(iter_jsonl(run / "flows.jsonl")))
    assert set(seen) == {"dns", "tcp", "udp", "h3"}, sorted(seen)
    assert seen["dns"]["dns"]["answered_by"] == "zone"
    assert seen["tcp"]["server_ip"] == "47.88.1.40"
    assert ("imei", "base64") in {(f["id"], f.get("encoding")) for f in seen["tcp"]["findings"]}, seen["tcp"]
    assert seen["udp"]["server_ip"] == "8.209.64.20"
    assert seen["h3"]["server_ip"] == "47.88.1.50"

    # no proxy setting and no adb reverse: the tunnel instead; everything undone
    for path in (run / "journal.json", *(files.state / "journals").glob("*.json")):
        journal = Journal.load(path)
        assert journal.status == JournalStatus.RESTORED, path
        kinds = [e.kind for e in journal.entries]
        assert [k for k in kinds if k.startswith("wireguard_")] == WIREGUARD_ENTRIES
        assert "http_proxy" not in kinds and "reverse" not in kinds and "ca" in kinds
        assert {e.state for e in journal.entries} == {EntryState.RESTORED}, path
    assert _state(handset) == before


def test_a_handset_without_the_wireguard_app_fails_before_the_profile_and_is_restored(
        tmp_path, adb_env, virtual_handset, lab_files):
    handset = virtual_handset("rooted-a14")  # no com.wireguard.android
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": handset.serial, "frida": "local"}],
                      handset.process.zone_path, {"name": "full-capture", "steps": [{"idle": "1s"}]})
    files.set_proxy(mode="wireguard")
    before = handset.state_dump()
    result = files.lab_cmd("run", "profile.yaml", "--device", handset.serial, "--quiet", "--json")
    assert result.returncode != 0, result.stdout
    (summary,) = json.loads(result.stdout)
    manifest = json.loads((Path(summary["run_dir"]) / "run.json").read_text())
    assert manifest["status"] == "failed" and manifest["steps"] == []
    assert "the WireGuard app (com.wireguard.android) is not installed" in manifest["error"]
    journal = Journal.load(Path(summary["run_dir"]) / "journal.json")
    assert journal.status == JournalStatus.RESTORED and "ca" in {e.kind for e in journal.entries}
    assert handset.state_dump() == before


def test_a_tunnel_that_carries_nothing_stops_the_run_with_the_fix_and_restores_the_handset(
        tmp_path, adb_env, virtual_handset, lab_files, monkeypatch):
    """The app brings the tunnel up, but no datagram reaches the proxy's WireGuard server (a
    firewall on the lab network: faults.wireguard_blocked): the probe gives up before the
    profile, naming the fix; exit 3; the journal undoes everything."""
    handset = virtual_handset(_spec(tmp_path, "vendor-1.0", faults={"wireguard_blocked": True}))
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": handset.serial, "frida": "local"}],
                      handset.process.zone_path, {"name": "never", "steps": [{"idle": "1s"}]})
    files.set_proxy(mode="wireguard")
    before = _state(handset)
    monkeypatch.setattr(run_session, "TUNNEL_PROBE_SECONDS", 3.0)  # 30 s in a real run
    started = time.monotonic()
    result = CliRunner().invoke(main, ["run", "--lab", str(files.lab), str(files.profile), "--device", handset.serial,
                                       "--quiet", "--json", "--skip-doctor"],
                                env={"ANDROID_ADB_SERVER_PORT": adb_env["ANDROID_ADB_SERVER_PORT"],
                                     "ANDROID_SERIAL": None}, catch_exceptions=False)
    assert result.exit_code == 3, result.output
    (summary,) = json.loads(result.stdout)
    manifest = json.loads((Path(summary["run_dir"]) / "run.json").read_text())
    assert manifest["status"] == "failed" and manifest["steps"] == []
    assert manifest["error"].startswith(f"{handset.serial}: the WireGuard tunnel 'lab' carried no traffic to the "
                                        "proxy (127.0.0.1:"), manifest["error"]
    assert "within 3 s: check that the WireGuard app shows it on" in manifest["error"]
    assert "proxy.wireguard_interface" in manifest["error"] and "proxy.mode: explicit" in manifest["error"]
    assert not [e for e in manifest["events"] if e["kind"] == "wireguard_tunnel"]
    journal = Journal.load(Path(summary["run_dir"]) / "journal.json")
    assert journal.status == JournalStatus.RESTORED
    assert [e.kind for e in journal.entries if e.kind.startswith("wireguard_")] == WIREGUARD_ENTRIES
    assert {e.state for e in journal.entries} == {EntryState.RESTORED}
    assert pending_journals(files.state, handset.serial) == []
    assert _state(handset) == before
    assert time.monotonic() - started < 25


def test_an_unrooted_handset_shows_the_tunnel_as_a_qr_code_and_waits_for_the_technician(
        tmp_path, adb_env, virtual_handset, lab_files):
    """No root: the run cannot write the app's files, so the technician imports the tunnel
    from a QR code on the terminal; one who skips stops the run (exit 3) before the
    profile, the VPN consent and always-on settings undone."""
    packages = yaml.safe_load((HANDSETS_DIR / "reference.yaml").read_text())["packages"]
    handset = virtual_handset(_spec(tmp_path, "reference", packages=[*packages, WIREGUARD_APP]))
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": handset.serial, "frida": "local"}],
                      handset.process.zone_path, {"name": "never", "steps": [{"idle": "1s"}]})
    files.set_proxy(mode="wireguard")
    before = {**handset.state_dump(), "appops": handset.device.shell("appops get com.wireguard.android")}
    proc, master = files.interactive("run", "profile.yaml", "--device", handset.serial, "--quiet", "--json")
    try:
        shown = read_until(master, b"press Enter when done", 60)
        assert b"in the WireGuard app: + > Scan from QR code, name it lab" in shown, shown[-3000:]
        qr = [line for line in shown.decode("utf-8", "replace").splitlines() if "\u2588\u2588" in line]
        assert len(qr) > 20, shown[-3000:]  # the tunnel as a terminal QR code
        time.sleep(1.0)
        assert proc.poll() is None  # waiting for the technician
        # meanwhile the shell user's part is done: VPN consent, always-on with lockdown
        assert "ACTIVATE_VPN: allow" in handset.device.shell("appops get com.wireguard.android")
        assert handset.device.shell("settings get secure always_on_vpn_lockdown").strip() == "1"
        os.write(master, b"s\n")
        rest = read_until(master, b'"run_dir"', 60)
        assert proc.wait(60) == 3, rest[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    (run,) = files.runs()
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "failed" and manifest["steps"] == []
    assert "unrooted handset: the WireGuard tunnel 'lab' is imported by the technician from a QR code, " \
           "and was not (skipped by the technician)" in manifest["error"], manifest["error"]
    (asked,) = [e for e in manifest["events"] if e["kind"] == "wireguard_technician"]
    assert asked["confirmed"] is False and asked["answered"] - asked["asked"] >= 0.9
    journal = Journal.load(run / "journal.json")
    assert journal.status == JournalStatus.RESTORED
    assert [e.kind for e in journal.entries if e.kind.startswith("wireguard_")] == [
        "wireguard_appop", "wireguard_setting", "wireguard_setting"]  # no tunnel file: the technician's
    assert {**handset.state_dump(), "appops": handset.device.shell("appops get com.wireguard.android")} == before
