"""`lab run` with full capture (lab.yaml `proxy: {mode: wireguard, network: contained}`) on
a vendor-1.1 virtual handset: the run installs the tunnel through the WireGuard app instead
of the proxy setting and adb reverse, starts the profile once a flow came through it, and
records what only full capture sees, from apps that never read a proxy setting: the
partner's DNS lookup, the raw TCP push channel with the IMEI (base64), the ad SDK's UDP
beacon and the HTTP/3 location upload. Restore leaves the handset as it was."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from support.full_capture import around_the_proxy

from harness.capture.folder import iter_jsonl
from harness.devices.journal import EntryState, Journal, JournalStatus
from harness.virtual.netns import unavailable_reason

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
    lab = yaml.safe_load(files.lab.read_text())
    lab["proxy"]["mode"] = "wireguard"
    files.lab.write_text(yaml.safe_dump(lab))
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
    lab = yaml.safe_load(files.lab.read_text())
    lab["proxy"]["mode"] = "wireguard"
    files.lab.write_text(yaml.safe_dump(lab))
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
