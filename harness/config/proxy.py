"""The proxy section of lab.yaml: listening address and port, client allowlist and
authentication (an open proxy on a lab network is refused), network mode (live or
contained), and how a handset's traffic reaches the proxy (explicit proxy setting or a
WireGuard tunnel that carries every packet)."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from harness.config.values import Count, StrictModel


class NetworkMode(StrEnum):
    LIVE = "live"
    CONTAINED = "contained"


class CaptureMode(StrEnum):
    """How a handset's traffic reaches the proxy."""

    AUTO = "auto"  # WireGuard where the handset side can make a tunnel, else explicit
    WIREGUARD = "wireguard"  # every packet (TCP, UDP, DNS, QUIC) through mitmproxy's WireGuard server
    EXPLICIT = "explicit"  # the handset's proxy setting: only clients that read it


_INTERFACE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


class ProxyConfig(StrictModel):
    mode: CaptureMode = Field(
        default=CaptureMode.AUTO,
        description="wireguard: full-device capture through a WireGuard tunnel; explicit: the proxy "
        "setting; auto: wireguard where the handset side can make the tunnel, else explicit",
    )
    listen_host: str = Field(default="127.0.0.1", description="IP address the proxy listens on")
    wireguard_host: str = Field(
        default="127.0.0.1",
        description="IP address of the WireGuard server (UDP); a non-loopback one needs client_allowlist",
    )
    wireguard_port: Count = Field(default=0, ge=0, le=65535, description="UDP port; 0 picks a free one per handset")
    wireguard_interface: str | None = Field(
        default=None,
        description="lab interface whose IPv4 address the WireGuard server binds to (instead of wireguard_host)",
    )
    block_quic: bool = Field(
        default=False, description="refuse QUIC (UDP 443) so apps fall back to TCP (recorded in run.json)",
    )
    port: Count = Field(default=0, ge=0, le=65535, description="0 picks a free port per handset")
    network: NetworkMode = NetworkMode.LIVE
    zone: Path | None = Field(
        default=None,
        description="contained mode: zone file mapping hostnames to world IPs and lab responders",
    )
    upstream_ca: Path | None = Field(default=None, description="CA bundle trusted upstream")
    client_allowlist: list[str] = Field(default_factory=list, description="CIDRs allowed to use a non-loopback proxy")
    auth: str | None = Field(
        default=None, pattern=r"^[^:\s]+:\S+$", description="user:password required of clients",
    )
    confdir: Path | None = Field(default=None, description="mitmproxy confdir (CA); default per lab")
    max_body_bytes: Count = Field(default=8 * 1024 * 1024, ge=1024)

    @field_validator("wireguard_interface")
    @classmethod
    def _interface(cls, value: str | None) -> str | None:
        if value is not None and not _INTERFACE.fullmatch(value):
            raise ValueError(f"{value!r} is not a network interface name (like eth0)")
        return value

    @field_validator("listen_host", "wireguard_host", mode="before")
    @classmethod
    def _host(cls, value: Any) -> Any:
        if value == "localhost":
            return "127.0.0.1"
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not an IP address (like 127.0.0.1)")
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as e:
            raise ValueError(f"{value!r} is not an IP address (like 127.0.0.1)") from e

    @field_validator("client_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        out = []
        for cidr in value:
            try:
                out.append(str(ipaddress.ip_network(cidr, strict=False)))
            except ValueError as e:
                raise ValueError(f"{cidr!r} is not a CIDR (like 10.0.0.0/24)") from e
        return out

    @model_validator(mode="after")
    def _not_open(self) -> ProxyConfig:
        reason = self.open_proxy_reason(self.listen_host)
        if reason:
            raise ValueError(f"{reason}: an open proxy on a lab network is a hole")
        reason = self.open_wireguard_reason(self.wireguard_host)
        if reason and self.mode != CaptureMode.EXPLICIT:
            raise ValueError(f"{reason}: an open WireGuard server on a lab network is a hole")
        if self.wireguard_interface and not self.client_allowlist and self.mode != CaptureMode.EXPLICIT:
            raise ValueError("a WireGuard server on a lab interface needs client_allowlist")
        return self

    def open_wireguard_reason(self, host: str) -> str | None:
        """Why a WireGuard server on `host` would serve anyone who reaches it, or None.
        Its keys authenticate the handset; off loopback the lab's networks must also be
        listed (client_allowlist, not every address): `auth` does not apply to it."""
        if ipaddress.ip_address(host).is_loopback:
            return None
        if not self.client_allowlist:
            return "a WireGuard server on a non-loopback address needs client_allowlist"
        everyone = admits_every_address(self.client_allowlist)
        if everyone:
            return f"client_allowlist admits every {everyone} address: list the lab's own networks"
        return None

    def capture_mode(self, tunnel_possible: bool) -> CaptureMode:
        """`auto` resolved: WireGuard where the handset side can make a tunnel."""
        if self.mode == CaptureMode.AUTO:
            return CaptureMode.WIREGUARD if tunnel_possible else CaptureMode.EXPLICIT
        return self.mode

    def open_proxy_reason(self, host: str) -> str | None:
        """Why a proxy on `host` with these settings would serve anyone who reaches it, or None.

        Loopback, or proxy authentication, closes it; else client_allowlist must exist and
        must not admit every address (0.0.0.0/0, ::/0, or prefixes that add up to one).
        """
        if ipaddress.ip_address(host).is_loopback or self.auth:
            return None
        if not self.client_allowlist:
            return "a proxy on a non-loopback address needs client_allowlist or auth"
        everyone = admits_every_address(self.client_allowlist)
        if everyone:
            return (f"client_allowlist admits every {everyone} address: list the lab's own "
                    "networks (like 10.0.0.0/24), or set auth to require a password")
        return None


def admits_every_address(cidrs: list[str]) -> str | None:
    """'IPv4' or 'IPv6' if the networks together cover all of that family, else None."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    for everything in (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")):
        family = [n for n in nets if n.version == everything.version]
        if list(ipaddress.collapse_addresses(family)) == [everything]:  # type: ignore[arg-type]
            return f"IPv{everything.version}"
    return None
