"""The real-phone WireGuard procedure (devices/wireguard.py) against the virtual handset's
WireGuard app, with a plain `mitmdump --mode wireguard` that lets nothing out: the app
traffic of services that never read a proxy setting arrives through the tunnel; with the
tunnel down under lockdown the apps stay in the namespace with no route; `lab restore`'s
undo leaves the handset exactly as before, with no namespace or wireguard-go left."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from support.wg_mitmdump import WgMitmdump

from harness.config.lab import LabConfig
from harness.devices import Journal, open_device, restore
from harness.devices.wireguard import ACTION_DOWN, ACTION_UP, broadcast_command, set_up
from harness.virtual.apps.runner import wait_for
from harness.virtual.netns import unavailable_reason

REASON = unavailable_reason()
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")]


def _pid(vh, package: str) -> int | None:
    out, code = vh.shell(f"pidof {package}")
    return int(out.split()[0]) if code == 0 and out.split() else None


def _netns_of(pid: int) -> str:
    return subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True).stdout.strip()


def _snapshot(vh) -> dict[str, str]:
    return {cmd: vh.shell(cmd)[0] for cmd in (
        "settings list secure", "appops get com.wireguard.android",
        "su -c 'ls -lZR /data/data/com.wireguard.android'")}


def _wireguard_go_in(ns: str) -> list[str]:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    return [p for p in pids if open(f"/proc/{p}/comm").read().strip() == "wireguard-go"]


def test_procedure_captures_the_handset_locks_it_down_and_restore_undoes_it(virtual_handset, adb_server, tmp_path):
    vh = virtual_handset("vendor-1.0")
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    handset = open_device(vh.serial, lab, client=adb_server.client)
    journal = Journal.create(handset.serial, tmp_path / "state")
    before = _snapshot(vh)
    assert wait_for(lambda: _pid(vh, "com.vendor.update"), 20)
    assert _netns_of(_pid(vh, "com.vendor.update")) == ""  # host namespace, as today
    mitm = WgMitmdump(tmp_path / "mitm")
    try:
        set_up(handset, journal, "lab", mitm.client_config())
        assert [e.kind for e in journal.entries] == [
            "wireguard_tunnel", "wireguard_settings", "wireguard_appop", "wireguard_setting",
            "wireguard_setting", "wireguard_up"]
        # The firmware's services now run in the handset namespace and reach mitmproxy
        # through the tunnel (the update checker's cleartext manifest, the telemetry TLS).
        assert wait_for(lambda: _pid(vh, "com.vendor.update") and _netns_of(_pid(vh, "com.vendor.update")), 20)
        ns = _netns_of(_pid(vh, "com.vendor.update"))
        assert ns.startswith("labv") and len(_wireguard_go_in(ns)) == 1
        recs = mitm.wait_for(lambda rs: any(r.get("path", "").startswith("/fw/manifest.json") for r in rs), 30)
        manifest = [r for r in recs if r.get("path", "").startswith("/fw/manifest.json")]
        assert manifest and manifest[0]["host"] == "104.16.1.1" and manifest[0]["client"] == "10.0.0.1"

        # Tunnel down, lockdown on: the apps stay in the namespace, which has no route out.
        handset.su(broadcast_command(ACTION_DOWN, "lab"))
        assert wait_for(lambda: _pid(vh, "com.vendor.update") and _netns_of(_pid(vh, "com.vendor.update")) == ns, 20)
        routes = subprocess.run(["ip", "-n", ns, "route", "show"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "-n", ns, "-br", "link"], capture_output=True, text=True).stdout
        assert routes.strip() == "" and [line.split()[0] for line in links.splitlines()] == ["lo"]
        assert _wireguard_go_in(ns) == []

        restore(handset, journal)
    finally:
        mitm.stop()
    assert _snapshot(vh) == before
    services = ("com.vendor.telemetry", "com.vendor.update", "com.vendor.services")
    assert wait_for(lambda: all(_pid(vh, p) and _netns_of(_pid(vh, p)) == "" for p in services), 20)
    assert not wait_for(lambda: not all(_pid(vh, p) for p in services), 3)  # they stay up, out of the namespace
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not Path("/var/run/wireguard", f"wg{ns}.sock").exists()


def test_the_shell_user_cannot_switch_the_tunnel(virtual_handset):
    """The receiver needs CONTROL_TUNNELS (root has it, the shell user does not) and the
    app's remote-control setting; neither missing one brings a tunnel up."""
    vh = virtual_handset("vendor-1.0")
    vh.shell("appops set com.wireguard.android ACTIVATE_VPN allow")
    out, code = vh.shell("am broadcast -a com.wireguard.android.action.SET_TUNNEL_UP "
                         "-n 'com.wireguard.android/.model.TunnelManager$IntentReceiver' -e tunnel lab")
    assert code == 0 and "Broadcast completed" in out
    logcat, _ = vh.shell("logcat -d")
    assert "requires com.wireguard.android.permission.CONTROL_TUNNELS" in logcat
    vh.shell("su -c " + shlex.quote(broadcast_command(ACTION_UP, "lab")))
    logcat, _ = vh.shell("logcat -d")
    assert "remote control intents are disabled" in logcat


def test_always_on_brings_the_tunnel_back_at_boot(virtual_handset, adb_server, tmp_path):
    """Always-on with lockdown: after a reboot the apps start in the namespace and the app
    brings its tunnel up again, so traffic goes on through the proxy; then restore."""
    vh = virtual_handset("vendor-1.0")
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    handset = open_device(vh.serial, lab, client=adb_server.client)
    journal = Journal.create(handset.serial, tmp_path / "state")
    mitm = WgMitmdump(tmp_path / "mitm")
    try:
        set_up(handset, journal, "lab", mitm.client_config())
        handset.reboot(timeout=60)
        assert wait_for(lambda: _pid(vh, "com.vendor.update") and _netns_of(_pid(vh, "com.vendor.update")), 20)
        ns = _netns_of(_pid(vh, "com.vendor.update"))
        assert len(_wireguard_go_in(ns)) == 1  # the tunnel is up again
        seen = len(mitm.records())
        assert mitm.wait_for(lambda rs: len(rs) > seen, 30)[seen:], "nothing through the tunnel after boot"
        restore(handset, journal)
    finally:
        mitm.stop()
    assert wait_for(lambda: _pid(vh, "com.vendor.update") and _netns_of(_pid(vh, "com.vendor.update")) == "", 20)
