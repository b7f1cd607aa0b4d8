"""A real `lab run` in WireGuard mode on vendor-1.1, the ad SDK hooked by Frida: every
connect the hooks saw (its HTTPS beacon and its UDP beacon) comes back as a flow the proxy
recorded through the tunnel, so the cross-check reports zero leaks and no proxy bypass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.analysis import analyse
from harness.virtual.netns import unavailable_reason

REASON = unavailable_reason()
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")]

PROFILE = {
    "name": "tunnel-cross-check",
    "description": "The ad SDK launched (hooked), then idle while it beacons.",
    "steps": [{"launch": {"package": "com.vendor.adsdk", "wait": "2s"}}, {"idle": "8s"}],
}


def test_a_wireguard_run_reports_zero_tunnel_leaks(tmp_path, adb_env, virtual_handset, lab_files):
    handset = virtual_handset("vendor-1.1")
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": handset.serial, "frida": "local"}],
                      handset.process.zone_path, PROFILE)
    files.set_proxy(mode="wireguard")

    result = files.lab_cmd("run", "profile.yaml", "--device", handset.serial, "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    (summary,) = json.loads(result.stdout)
    run = Path(summary["run_dir"])
    assert json.loads((run / "run.json").read_text())["proxy"]["wireguard"]["client_addresses"][0] == "10.0.0.1"

    a = analyse([run])
    connects = a.hooks[(a.hooks["type"] == "net:connect") & (a.hooks["package"] == "com.vendor.adsdk")]
    assert {443, 9999} <= set(connects["port"]), connects[["ip", "port"]]  # Frida saw the beacons
    assert a.tunnel_check is not None and a.tunnel_check["connections"] >= 2
    assert a.tunnel_leaks.empty, a.tunnel_leaks[["app", "ip", "port"]]
    assert a.summary["tunnel_check"]["line"].endswith("; all went through the tunnel")
    assert a.bypassed.empty, a.bypassed[["app", "ip", "port"]]  # no connect in WireGuard mode is a bypass
