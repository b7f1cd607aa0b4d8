"""Where a virtual handset's app processes run: the host namespace (as before), or, while
the handset's WireGuard app holds it (a tunnel up, or always-on VPN with lockdown), a
network namespace of its own whose only way out is the tunnel (netns.py, wg_client.py).

A machine that cannot make namespaces (`unavailable_reason`) keeps every app in the host
namespace; the WireGuard app then logs why its tunnel cannot come up.
"""

from __future__ import annotations

import errno
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from harness.virtual.netns import Netns, NetnsError, unavailable_reason
from harness.virtual.wg_client import TunnelClient, TunnelConfig

NETNS_FILE = "netns"  # devices/virtual_runtime.py NETNS_NAME reads it


class HandsetNetwork:
    def __init__(self, runtime_dir: Path, blocked: bool = False) -> None:
        self.runtime_dir = runtime_dir
        self.blocked = blocked  # no datagram reaches the WireGuard server (faults.wireguard_blocked)
        self.reason = unavailable_reason()
        self.name = "labv" + secrets.token_hex(4)
        self.netns: Netns | None = None
        self.client: TunnelClient | None = None

    @property
    def contained(self) -> bool:
        """The apps run in the handset's namespace (started from now on, and moved there)."""
        return self.netns is not None

    @property
    def tunnel_up(self) -> bool:
        return self.client is not None and self.client.is_up

    def contain(self) -> Netns:
        if self.reason is not None:
            raise NetnsError(self.reason)
        if self.netns is None:
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            (self.runtime_dir / NETNS_FILE).write_text(self.name)  # lab restore deletes it after a kill -9
            self.netns = Netns(self.name).create()
        return self.netns

    def detach(self) -> Netns | None:
        """Tunnel down; apps started from now on run as before. The namespace is returned
        for the caller to delete once its apps have moved out (delete kills what is left)."""
        self.down()
        ns, self.netns = self.netns, None
        (self.runtime_dir / NETNS_FILE).unlink(missing_ok=True)
        return ns

    def release(self) -> None:
        """Tunnel down and the namespace gone: the apps run as before."""
        ns = self.detach()
        if ns is not None:
            ns.delete()

    def up(self, config: TunnelConfig) -> None:
        ns = self.contain()
        if self.client is None:
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            self.client = TunnelClient(ns, self.runtime_dir / "wireguard-go.log", blocked=self.blocked)
        self.client.up(config)

    def down(self) -> None:
        if self.client is not None:
            self.client.down()
            self.client = None
        if self.netns is not None:
            self.netns.resolv_conf.write_text("nameserver 10.0.0.53\n")

    def connect(self, address: tuple[str, int], timeout: float) -> socket.socket:
        """A TCP connection from inside the handset's namespace (OSError as a phone's socket
        raises it: unreachable with the tunnel down, timed out when nothing answers)."""
        if self.netns is None:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        sock = self.netns.open_socket()
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    def preexec(self) -> Callable[[], None] | None:
        """What an app process runs before exec: into the namespace when contained."""
        return self.netns.preexec() if self.netns is not None else None

    def close(self) -> None:
        self.release()
