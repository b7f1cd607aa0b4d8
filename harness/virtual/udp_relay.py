"""The one way out of a handset's namespace: WireGuard's UDP, relayed to the proxy.

A socket bound to 127.0.0.1 inside the namespace (made by a short-lived thread that joins
the namespace: setns changes only the calling thread) receives wireguard-go's datagrams;
a socket in the host namespace sends them to the proxy's WireGuard port and carries the
answers back. Only datagrams go through, counted; nothing is forwarded or NATed by the
kernel, and the proxy stays bound to the host's loopback (or the lab interface).

`blocked` (the spec's faults.wireguard_blocked) drops every datagram of the handset, counted
in `dropped`, as a firewall between a phone and the lab's WireGuard port does: wireguard-go
and the app see a tunnel that is up, and nothing reaches the proxy.
"""

from __future__ import annotations

import selectors
import socket
import threading
from pathlib import Path

from harness.virtual.netns import socket_in

MAX_DATAGRAM = 65535


def socket_in_namespace(netns_path: Path, family: int = socket.AF_INET) -> socket.socket:
    """A UDP socket bound to loopback:0 inside the namespace at netns_path."""
    sock = socket_in(netns_path, family, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
    except OSError:
        sock.close()
        raise
    return sock


class UdpRelay:
    """Datagrams between wireguard-go (inside) and the proxy's WireGuard port (outside)."""

    def __init__(self, netns_path: Path, target: tuple[str, int], blocked: bool = False) -> None:
        self.target = target
        self.blocked = blocked
        self.inside = socket_in_namespace(netns_path)
        family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        self.outside = socket.socket(family, socket.SOCK_DGRAM)
        self.outside.connect(target)
        self.sent = 0      # datagrams from the handset to the proxy
        self.received = 0  # datagrams from the proxy to the handset
        self.dropped = 0  # datagrams from the handset that a blocked relay did not send
        self._peer: tuple[str, int] | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._loop, name="wg-relay", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The endpoint port wireguard-go is given (on 127.0.0.1 inside the namespace)."""
        return int(self.inside.getsockname()[1])

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.inside, selectors.EVENT_READ, "in")
        sel.register(self.outside, selectors.EVENT_READ, "out")
        sel.register(self._wake_r, selectors.EVENT_READ, "stop")
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "stop":
                        return
                    try:
                        self._move(key.data)
                    except OSError:
                        continue  # the proxy not listening yet (ICMP refused): WireGuard retries
        finally:
            sel.close()

    def _move(self, side: str) -> None:
        if side == "in":
            data, self._peer = self.inside.recvfrom(MAX_DATAGRAM)
            if self.blocked:
                self.dropped += 1
                return
            self.outside.send(data)
            self.sent += 1
        else:
            data = self.outside.recv(MAX_DATAGRAM)
            if self._peer is not None:
                self.inside.sendto(data, self._peer)
                self.received += 1

    def close(self) -> None:
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for s in (self.inside, self.outside, self._wake_r, self._wake_w):
            s.close()
