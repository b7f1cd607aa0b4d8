"""`lab doctor`'s capture path in WireGuard mode (run/tunnel_probe.py) on virtual handsets:
the probe tunnel carries a connection from the handset to a probe proxy and is undone,
leaving the handset as it was; a handset whose tunnel reaches nothing (a firewall on the
lab network: faults.wireguard_blocked) is named with the fix (exit 3); a handset without
the WireGuard app is told to install it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import frida
import pytest
import yaml
from click.testing import CliRunner
from support.elf_files import server_bytes

from harness.cli.main import main
from harness.config.lab import LabConfig
from harness.devices import Journal, open_device
from harness.devices.journal import pending_journals
from harness.run.tunnel_probe import NAME, check_tunnel
from harness.virtual.netns import unavailable_reason
from harness.virtual.spec import HANDSETS_DIR

REASON = unavailable_reason()
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")]


def _snapshot(vh) -> dict[str, str]:
    """What the probe changes (settings, app op, the app's files) and what it starts (a namespace)."""
    out = {cmd: vh.shell(cmd)[0] for cmd in (
        "settings list secure", "appops get com.wireguard.android",
        "su -c 'ls -lZR /data/data/com.wireguard.android'", "pm list packages")}
    # the handset's namespace, named in its runtime folder while it has one (handset_network.py)
    netns = Path(vh.process.zone_path).parent / "netns"
    out["netns"] = netns.read_text() if netns.exists() else ""
    return out


def test_the_probe_tunnel_reaches_the_proxy_and_is_undone(virtual_handset, adb_server, tmp_path):
    vh = virtual_handset("vendor-1.0")
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state",
                                    "proxy": {"mode": "wireguard"}})
    handset = open_device(vh.serial, lab, client=adb_server.client)
    before = _snapshot(vh)
    try:
        check = check_tunnel(handset, lab, Journal.create(handset.serial, lab.state_dir), virtual=True)
        assert check.status == "pass", check
        assert check.summary.startswith("a connection from the handset to 192.0.2.1:80 came through the "
                                        "WireGuard tunnel to the proxy (127.0.0.1:")
        assert _snapshot(vh) == before
        assert pending_journals(lab.state_dir, handset.serial) == []

        vh.shell("pm uninstall com.wireguard.android")
        check = check_tunnel(handset, lab, Journal.create(handset.serial, lab.state_dir), virtual=True)
    finally:
        handset.close()
    assert check.status == "fail" and check.name == NAME
    assert check.summary.startswith("the WireGuard app (com.wireguard.android) is not installed")
    assert "`adb install`" in check.fix and "proxy.mode: explicit" in check.fix
    assert pending_journals(lab.state_dir, handset.serial) == []  # the next doctor's journal check passes


def test_lab_doctor_names_a_tunnel_that_reaches_nothing(virtual_handset, adb_server, tmp_path):
    spec = yaml.safe_load((HANDSETS_DIR / "vendor-1.0.yaml").read_text())
    spec["faults"] = {"wireguard_blocked": True}  # a firewall on the lab network drops its UDP
    (tmp_path / "blocked.yaml").write_text(yaml.safe_dump(spec))
    vh = virtual_handset(str(tmp_path / "blocked.yaml"))
    vh.device.sync.push(io.BytesIO(server_bytes("arm64-v8a", frida.__version__)), "/data/local/tmp/frida-server",
                        0o755)  # what a technician installs once
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump({"name": "Doctor", "jurisdiction": "IN", "state_dir": str(tmp_path / "state"),
                                   "proxy": {"mode": "wireguard"},
                                   "devices": [{"serial": vh.serial, "frida": "local"}]}))
    before = _snapshot(vh)
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "ANDROID_SERIAL": None}
    result = CliRunner().invoke(main, ["doctor", "--lab", str(lab), "--device", vh.serial, "--json"], env=env)
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert result.exit_code == 3, result.output
    assert [name for name, c in checks.items() if c["status"] == "fail"] == [NAME], result.output
    tunnel = checks[NAME]
    assert tunnel["summary"].startswith("the WireGuard tunnel carried nothing to the proxy (127.0.0.1:")
    assert "192.0.2.1:80 was not seen (nc: connect: Connection timed out)" in tunnel["summary"]
    assert "proxy.wireguard_interface" in tunnel["fix"] and "firewall" in tunnel["fix"]
    assert checks["capture path"]["status"] == "not applicable"
    assert _snapshot(vh) == before
    assert pending_journals(Path(tmp_path / "state"), vh.serial) == []
