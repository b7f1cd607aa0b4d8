"""WireGuard mode of the Proxy: per-handset keys, the client's tunnel, binding rules."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import mitmproxy_rs
import pytest

from harness.config.lab import LabConfig
from harness.config.proxy import CaptureMode
from harness.errors import ProxyError
from harness.proxy.master import Proxy
from harness.proxy.wireguard import handset_keys, keys_path


def lab(tmp_path: Path, **proxy: object) -> LabConfig:
    return LabConfig.model_validate(
        {"name": "wg lab", "jurisdiction": "IN", "proxy": proxy, "state_dir": str(tmp_path / "state")}
    )


def test_wireguard_proxy_serves_the_tunnel_it_describes(tmp_path: Path) -> None:
    config = lab(tmp_path, mode="wireguard")
    with Proxy(config, capture_dir=tmp_path / "cap", device="virtual:vendor-1.0") as proxy:
        tunnel = proxy.tunnel
        info = proxy.run_info()
        # the UDP port mitmproxy bound is the one the tunnel names, and it is taken
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(OSError):
            probe.bind(("127.0.0.1", proxy.port))
        probe.close()
    assert tunnel.endpoint == f"127.0.0.1:{info['port']}"
    keys = json.loads(tunnel.keyfile.read_text())
    assert tunnel.keyfile == keys_path(config.state_dir, "wg lab", "virtual:vendor-1.0")
    assert stat.S_IMODE(tunnel.keyfile.stat().st_mode) == 0o600
    assert tunnel.server_public == mitmproxy_rs.wireguard.pubkey(keys["server_key"])
    text = tunnel.wg_quick()
    assert f"PrivateKey = {keys['client_key']}" in text
    assert f"PublicKey = {tunnel.server_public}" in text
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in text and "DNS = 10.0.0.53" in text
    assert f"Endpoint = 127.0.0.1:{info['port']}" in text
    # the handset's own tunnel addresses, for the analysis's leak cross-check (tunnel_leaks.py)
    assert info["wireguard"]["client_addresses"] == ["10.0.0.1", "fdc8:7f9a:d6b1::1"]
    assert info["mode"] == "wireguard" and info["block_quic"] is False
    assert info["wireguard"]["client_public_key"] == mitmproxy_rs.wireguard.pubkey(keys["client_key"])


def test_keys_are_kept_per_handset(tmp_path: Path) -> None:
    first = handset_keys(tmp_path / "a.json")
    assert handset_keys(tmp_path / "a.json") == first  # a phone's imported tunnel stays valid
    assert handset_keys(tmp_path / "b.json").client_key != first.client_key


def test_a_bad_key_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "k.json"
    bad.write_text('{"server_key": "nope", "client_key": "nope"}')
    with pytest.raises(ProxyError, match="bad WireGuard key file"):
        handset_keys(bad)


def test_contained_wireguard_connects_lazily(tmp_path: Path) -> None:
    zone = tmp_path / "zone.json"
    zone.write_text('{"version": 1, "hosts": {}}')
    proxy = Proxy(lab(tmp_path, mode="wireguard", network="contained", zone=str(zone)))
    opts = proxy.mitm_options()
    assert opts["connection_strategy"] == "lazy"
    assert opts["mode"][0].startswith("wireguard:") and opts["mode"][0].endswith("@127.0.0.1:0")


def test_explicit_and_auto_stay_http_proxies(tmp_path: Path) -> None:
    assert "mode" not in Proxy(lab(tmp_path)).mitm_options()
    assert Proxy(lab(tmp_path)).mode == CaptureMode.EXPLICIT  # auto: the run resolves it
    assert lab(tmp_path).proxy.capture_mode(tunnel_possible=True) == CaptureMode.WIREGUARD
    assert lab(tmp_path).proxy.capture_mode(tunnel_possible=False) == CaptureMode.EXPLICIT
    with pytest.raises(ProxyError, match="not in WireGuard mode"):
        _ = Proxy(lab(tmp_path)).tunnel


@pytest.mark.parametrize("allowlist", [[], ["0.0.0.0/0"]])
def test_open_wireguard_server_is_refused(tmp_path: Path, allowlist: list[str]) -> None:
    with pytest.raises(ValueError, match="WireGuard server"):
        lab(tmp_path, mode="wireguard", wireguard_host="0.0.0.0", client_allowlist=allowlist)
    with pytest.raises(ProxyError, match="refusing to listen on 0.0.0.0"):
        Proxy(lab(tmp_path, mode="wireguard", client_allowlist=allowlist), listen_host="0.0.0.0")


def test_lab_interface_address_is_used(tmp_path: Path) -> None:
    config = lab(tmp_path, mode="wireguard", wireguard_interface="lo", client_allowlist=["10.0.5.0/24"])
    assert Proxy(config).listen_host == "127.0.0.1"
    with pytest.raises(ValueError, match="interface name"):
        lab(tmp_path, wireguard_interface="eth0; reboot", client_allowlist=["10.0.5.0/24"])
