"""Real `lab run`s in WireGuard mode on vendor-1.0 and vendor-1.1 side by side, the firmware
services and the ad SDK hooked by Frida: every connect the hooks saw comes back as a flow
the proxy recorded through the tunnel (the cross-check reports zero leaks and no proxy
bypass), and `lab diff` of the two firmwares names only what 1.1 added: none of the DNS
lookups, raw TCP/UDP or QUIC flows both send is taken for a change."""

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
    "description": "The firmware's services hooked, the ad SDK launched (hooked), then idle while they send.",
    "apps": [{"package": "com.vendor.telemetry"}, {"package": "com.vendor.services"}],
    "hooks": ["network"],
    "steps": [{"launch": {"package": "com.vendor.adsdk", "wait": "2s"}}, {"idle": "10s"}],
}
PARTNER = "collect.partner-metrics.example"  # new in vendor-1.1: an address-book upload and DNS lookups


def test_wireguard_runs_report_zero_tunnel_leaks_and_diff_the_firmwares(tmp_path, adb_env, lab_files):
    devices = [{"serial": "virtual:vendor-1.0", "frida": "local"}, {"serial": "virtual:vendor-1.1", "frida": "local"}]
    files = lab_files(tmp_path / "lab", adb_env, devices, None, PROFILE)
    files.set_proxy(mode="wireguard")
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--device", "virtual:vendor-1.1",
                           "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    base, new = (Path(s["run_dir"]) for s in json.loads(result.stdout))
    assert json.loads((base / "run.json").read_text())["proxy"]["wireguard"]["client_addresses"][0] == "10.0.0.1"

    for run in (base, new):
        a = analyse([run])
        connects = a.hooks[(a.hooks["type"] == "net:connect") & (a.hooks["package"] == "com.vendor.adsdk")]
        assert {443, 9999} <= set(connects["port"]), connects[["ip", "port"]]  # Frida saw the beacons
        assert a.tunnel_check is not None and a.tunnel_check["connections"] >= 2
        assert a.tunnel_leaks.empty, a.tunnel_leaks[["app", "ip", "port"]]
        assert a.summary["tunnel_check"]["line"].endswith("; all went through the tunnel")
        assert a.bypassed.empty, a.bypassed[["app", "ip", "port"]]  # no connect in WireGuard mode is a bypass

    diff = files.lab_cmd("diff", str(base), str(new), "--format", "json")
    assert diff.returncode == 1, diff.stdout + diff.stderr
    regressions = json.loads(diff.stdout)["regressions"]
    assert {r["data"]["key"] for r in regressions} == {PARTNER}, regressions
