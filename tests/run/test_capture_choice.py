"""`proxy.mode: auto` resolved by asking the handset over adb, as on a real phone: full
capture (wireguard) when the WireGuard app is installed and the handset reaches the lab's
WireGuard server (a virtual handset on loopback; a phone only through the lab interface
lab.yaml names), else the proxy setting; each with the one-line reason run.json records."""

from __future__ import annotations

import pytest

from harness.config.lab import LabConfig
from harness.config.proxy import CaptureMode
from harness.devices import open_device
from harness.run.capture_choice import resolve_capture_mode
from harness.virtual.netns import unavailable_reason

pytestmark = pytest.mark.e2e
REASON = unavailable_reason()  # where the machine cannot make the tunnel, the virtual app is absent


def _lab(tmp_path, **proxy) -> LabConfig:
    return LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state",
                                     "proxy": proxy})


def test_auto_asks_the_handset_for_the_wireguard_app_and_how_it_reaches_the_server(
        virtual_handset, adb_server, tmp_path):
    vh = virtual_handset("vendor-1.0")  # its image has com.wireguard.android
    handset = open_device(vh.serial, client=adb_server.client)
    auto = _lab(tmp_path)
    mode, reason = resolve_capture_mode(handset, auto, virtual=True)
    if REASON is None:
        assert (mode, reason) == (CaptureMode.WIREGUARD, "auto: the WireGuard app is installed and the "
                                                         "handset reaches the server (loopback)")
    else:  # a phone without the app, as far as the handset says
        assert mode == CaptureMode.EXPLICIT and "WireGuard app (com.wireguard.android) is not installed" in reason
        return
    # the same handset as a phone on the lab network: only through the interface lab.yaml names
    mode, reason = resolve_capture_mode(handset, auto, virtual=False)
    assert mode == CaptureMode.EXPLICIT and "names no proxy.wireguard_interface" in reason
    lab_net = _lab(tmp_path, wireguard_interface="eth0", client_allowlist=["10.0.0.0/24"])
    assert resolve_capture_mode(handset, lab_net, virtual=False) == (
        CaptureMode.WIREGUARD, "auto: the WireGuard app is installed and the handset reaches the server "
                               "(interface eth0)")
    # a mode lab.yaml names is kept as it is
    assert resolve_capture_mode(handset, _lab(tmp_path, mode="explicit"), virtual=True) == (
        CaptureMode.EXPLICIT, "lab.yaml proxy.mode: explicit")


def test_auto_without_the_wireguard_app_is_the_proxy_setting(virtual_handset, adb_server, tmp_path):
    vh = virtual_handset("rooted-a14")  # no com.wireguard.android
    handset = open_device(vh.serial, client=adb_server.client)
    mode, reason = resolve_capture_mode(handset, _lab(tmp_path), virtual=True)
    assert mode == CaptureMode.EXPLICIT
    assert reason == ("auto: the WireGuard app (com.wireguard.android) is not installed on the handset, "
                      "so the proxy setting")
    assert resolve_capture_mode(handset, _lab(tmp_path, mode="wireguard"), virtual=True) == (
        CaptureMode.WIREGUARD, "lab.yaml proxy.mode: wireguard")
