"""Which capture mode a run uses on one handset: lab.yaml's `proxy.mode`, with `auto`
resolved by asking the handset over adb, as on a real phone.

auto -> wireguard when the WireGuard app is installed on the handset (`pm path
com.wireguard.android`) and the handset can reach the lab's WireGuard server (a virtual
handset: yes, on loopback; a real phone: only when lab.yaml names proxy.wireguard_interface,
the lab interface it reaches); else explicit. A virtual handset lists the app only where
its machine can make the tunnel (harness/virtual/wireguard_app.py), so the same question
answers for both.
"""

from __future__ import annotations

from harness.config import LabConfig
from harness.config.proxy import CaptureMode
from harness.devices import wireguard
from harness.devices.handset import Handset


def resolve_capture_mode(handset: Handset, lab: LabConfig, virtual: bool) -> tuple[CaptureMode, str]:
    """The capture mode for this handset and a one-line reason (run.json, console, doctor)."""
    configured = lab.proxy.mode
    if configured != CaptureMode.AUTO:
        return configured, f"lab.yaml proxy.mode: {configured.value}"
    if not wireguard.installed(handset):
        return CaptureMode.EXPLICIT, (f"auto: the WireGuard app ({wireguard.PACKAGE}) is not installed "
                                      "on the handset, so the proxy setting")
    if not virtual and lab.proxy.wireguard_interface is None:
        return CaptureMode.EXPLICIT, ("auto: the WireGuard app is installed but lab.yaml names no "
                                      "proxy.wireguard_interface the phone can reach, so the proxy setting")
    where = "loopback" if virtual else f"interface {lab.proxy.wireguard_interface}"
    return CaptureMode.WIREGUARD, f"auto: the WireGuard app is installed and the handset reaches the server ({where})"
