"""The virtual WireGuard app is installed only where its machine can make the tunnel
(harness/virtual/handset_network.py: root, /dev/net/tun, wireguard-go, wg, ip): elsewhere
the handset answers over adb like a phone without the app, so `proxy.mode: auto` resolves
to the proxy setting there (harness/run/capture_choice.py)."""

from __future__ import annotations

from support.shell_host import Host

from harness.virtual.handset_network import HandsetNetwork
from harness.virtual.wireguard_app import PACKAGE, WireGuardApp

NO_TUN = "no /dev/net/tun: wireguard-go cannot make its interface"


def _app(tmp_path, reason: str | None) -> Host:
    host = Host("vendor-1.0")  # its image has com.wireguard.android
    network = HandsetNetwork(tmp_path / "runtime")
    network.reason = reason  # what this machine allows, as HandsetNetwork found it
    WireGuardApp(host.state, network, lambda: None)
    return host


def test_where_the_machine_cannot_make_the_tunnel_the_handset_has_no_wireguard_app(tmp_path):
    host = _app(tmp_path, NO_TUN)
    assert host.run(f"pm path {PACKAGE}") == ("", "", 1)
    assert f"package:{PACKAGE}\n" not in host.run("pm list packages")[0]
    assert host.run("ls /data/data/com.wireguard.android", uid=0)[2] != 0


def test_where_the_machine_can_the_app_is_listed_with_its_files_folder(tmp_path):
    host = _app(tmp_path, None)
    out, _, code = host.run(f"pm path {PACKAGE}")
    assert code == 0 and out.startswith("package:/data/app/") and out.endswith("/base.apk\n"), out
    assert f"package:{PACKAGE}\n" in host.run("pm list packages")[0]
    assert host.run("ls /data/data/com.wireguard.android", uid=0)[0].split() == ["files"]
