"""A WireGuard client in a handset's namespace: wireguard-go + wg, configured from a
wg-quick file (the tunnel the WireGuard app holds, the one mitmproxy prints).

up(): the relay to the file's Endpoint (udp_relay.py), wireguard-go in the namespace
(foreground, reaped by us), `wg set` with the file's key and peer (endpoint: the relay on
127.0.0.1 inside), the file's addresses, MTU 1420, default routes through the interface (quickack),
and the namespace's resolv.conf pointed at the file's DNS. down(): all of it removed, so the
namespace has no route out again.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.virtual.netns import Netns, NetnsError, run
from harness.virtual.udp_relay import UdpRelay

UAPI_DIR = Path("/var/run/wireguard")
START_TIMEOUT = 5.0


class TunnelConfigError(ValueError):
    """A wg-quick file the client cannot use."""


@dataclass
class TunnelConfig:
    private_key: str
    addresses: list[str]
    peer_public_key: str
    endpoint: tuple[str, int]
    allowed_ips: list[str] = field(default_factory=lambda: ["0.0.0.0/0"])
    dns: list[str] = field(default_factory=list)
    mtu: int = 1420


def parse_wg_quick(text: str) -> TunnelConfig:
    """The [Interface] and one [Peer] of a wg-quick file (TunnelConfigError when unusable)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip().lower(), {})
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise TunnelConfigError(f"not a wg-quick line: {raw.strip()!r}")
        current[key.strip().lower()] = value.strip()
    iface, peer = sections.get("interface"), sections.get("peer")
    if iface is None or peer is None:
        raise TunnelConfigError("a tunnel has an [Interface] and a [Peer]")
    try:
        host, _, port = peer["endpoint"].rpartition(":")
        endpoint = (host.strip("[]"), int(port))
        addresses = [str(ipaddress.ip_interface(a.strip())) for a in iface.get("address", "").split(",") if a.strip()]
        allowed = [str(ipaddress.ip_network(a.strip(), strict=False))
                   for a in peer.get("allowedips", "0.0.0.0/0").split(",") if a.strip()]
        dns = [str(ipaddress.ip_address(a.strip())) for a in iface.get("dns", "").split(",") if a.strip()]
        return TunnelConfig(private_key=iface["privatekey"], addresses=addresses,
                            peer_public_key=peer["publickey"], endpoint=endpoint, allowed_ips=allowed,
                            dns=dns, mtu=int(iface.get("mtu", "1420")))
    except (KeyError, ValueError) as e:
        raise TunnelConfigError(f"unusable tunnel: {e}") from e


class TunnelClient:
    """wireguard-go for one namespace; interface `wg-<namespace>` cut to 15 characters."""

    def __init__(self, netns: Netns, log_path: Path | None = None, blocked: bool = False) -> None:
        self.netns = netns
        self.blocked = blocked  # the relay drops every datagram (faults.wireguard_blocked)
        self.interface = ("wg" + netns.name)[:15]
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self.relay: UdpRelay | None = None

    @property
    def is_up(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def up(self, config: TunnelConfig) -> None:
        if self.is_up:
            self.down()
        self.relay = UdpRelay(self.netns.path, config.endpoint, blocked=self.blocked)
        try:
            self._start_daemon()
            self._configure(config)
        except (NetnsError, OSError):
            self.down()
            raise

    def _start_daemon(self) -> None:
        sock = UAPI_DIR / f"{self.interface}.sock"
        sock.unlink(missing_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "WG_PROCESS_FOREGROUND": "1", "LOG_LEVEL": "error"}
        try:
            self._proc = subprocess.Popen(self.netns.exec_argv(["wireguard-go", "-f", self.interface]),
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + START_TIMEOUT
        while not sock.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise NetnsError(f"wireguard-go did not start for {self.interface}")
            time.sleep(0.005)

    def _configure(self, config: TunnelConfig) -> None:
        assert self.relay is not None
        ns = self.netns
        run(ns.exec_argv(["wg", "set", self.interface, "private-key", "/dev/stdin",
                          "peer", config.peer_public_key, "endpoint", f"127.0.0.1:{self.relay.port}",
                          "allowed-ips", ",".join(config.allowed_ips)]),
            input_=config.private_key.encode() + b"\n")
        for address in config.addresses:
            ns.ip("address", "add", address, "dev", self.interface)
        ns.ip("link", "set", self.interface, "mtu", str(config.mtu), "up")
        for net in config.allowed_ips:
            family = "-6" if ":" in net else "-4"
            if any((":" in a) == (":" in net) for a in config.addresses):
                # quickack: ACK at once; mitmproxy's TCP stack holds a response's body until its
                # head is ACKed, and a delayed ACK stalled keep-alive requests ~40 ms each
                ns.ip(family, "route", "replace", "default" if net.endswith("/0") else net, "dev", self.interface,
                      "quickack", "1")
        if config.dns:
            ns.resolv_conf.write_text("".join(f"nameserver {d}\n" for d in config.dns))

    def down(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.netns.exists() and self.interface in self.netns.links():
            self.netns.ip("link", "delete", self.interface)
        (UAPI_DIR / f"{self.interface}.sock").unlink(missing_ok=True)
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.close()
