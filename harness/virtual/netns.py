"""A virtual handset's own network namespace: where its apps and services run in full capture.

The namespace holds only `lo` and, while the WireGuard tunnel is up, the tunnel's interface
(wg_client.py). Its only way out is the tunnel: wireguard-go's UDP goes to 127.0.0.1 inside
the namespace, where a relay (udp_relay.py) hands each datagram to the proxy's WireGuard
port in the host namespace. No veth, no route to the host, no forwarding or NAT anywhere:
packets to world IPs exist only inside this namespace and inside the tunnel.

DNS: /etc/netns/NAME/resolv.conf names the tunnel's resolver (10.0.0.53, as mitmproxy's
client config says); `ip netns exec` and `enter()` bind it over /etc/resolv.conf in a
private mount namespace, so getaddrinfo inside asks through the tunnel.

`unavailable_reason()` says why a machine cannot do this (not root, no /dev/net/tun, no
wireguard-go, wg or ip): the handset then runs as before (explicit proxy) and tests skip
with that reason.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

NETNS_RUN = Path("/run/netns")
NETNS_ETC = Path("/etc/netns")
TUNNEL_DNS = "10.0.0.53"
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_SLAVE = 1 << 19
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
TOOLS = ("ip", "wireguard-go", "wg")


class NetnsError(RuntimeError):
    """A namespace operation failed (the command and its stderr)."""


def unavailable_reason() -> str | None:
    """None when this machine can give a handset a namespace behind wireguard-go, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (run as root, as CI does)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun: wireguard-go cannot make its interface"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return (f"{', '.join(missing)} not installed (apt-get install --no-install-recommends "
                "wireguard-go wireguard-tools iproute2)")
    return None


def socket_in(netns_path: Path, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket of the namespace at netns_path, made by a short-lived thread that joins it
    (setns changes only the calling thread); the socket stays in that namespace wherever it
    is used from."""
    out: list[socket.socket | OSError] = []

    def make() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                if libc().setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {netns_path}")
            finally:
                os.close(fd)
            out.append(socket.socket(family, kind))
        except OSError as e:
            out.append(e)

    t = threading.Thread(target=make, name="netns-socket", daemon=True)
    t.start()
    t.join()
    if isinstance(out[0], OSError):
        raise out[0]
    return out[0]


def run(argv: list[str], input_: bytes | None = None) -> str:
    try:
        done = subprocess.run(argv, input=input_, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NetnsError(f"{' '.join(argv)}: {e}") from e
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode(errors="replace")


class Netns:
    """One named namespace; create() it, delete() it (also what a crash left)."""

    def __init__(self, name: str) -> None:
        if not _NAME.match(name):
            raise NetnsError(f"not a namespace name (a-z, 0-9, -, at most 15): {name!r}")
        self.name = name

    @property
    def path(self) -> Path:
        return NETNS_RUN / self.name

    @property
    def resolv_conf(self) -> Path:
        return NETNS_ETC / self.name / "resolv.conf"

    def exists(self) -> bool:
        return self.path.exists()

    def create(self, dns: str = TUNNEL_DNS) -> Netns:
        if self.exists():
            self.delete()
        run(["ip", "netns", "add", self.name])
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        self.resolv_conf.parent.mkdir(parents=True, exist_ok=True)
        self.resolv_conf.write_text(f"nameserver {dns}\n")
        return self

    def delete(self) -> None:
        if self.exists():
            for pid in self.pids():
                _kill(pid)
            run(["ip", "netns", "delete", self.name])
        shutil.rmtree(self.resolv_conf.parent, ignore_errors=True)

    def exec_argv(self, argv: list[str]) -> list[str]:
        """argv run inside the namespace (with its resolv.conf)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def ip(self, *args: str) -> str:
        return run(["ip", "-n", self.name, *args])

    def pids(self) -> list[int]:
        out = run(["ip", "netns", "pids", self.name]) if self.exists() else ""
        return [int(p) for p in out.split() if p.isdigit()]

    def links(self) -> dict[str, dict[str, int]]:
        """{interface: {"tx_packets", "rx_packets"}} inside the namespace."""
        rows = json.loads(self.ip("-s", "-j", "link", "show") or "[]")
        return {r["ifname"]: {"tx_packets": int(r.get("stats64", r.get("stats", {})).get("tx", {}).get("packets", 0)),
                              "rx_packets": int(r.get("stats64", r.get("stats", {})).get("rx", {}).get("packets", 0))}
                for r in rows}

    def routes(self) -> list[str]:
        return [line for line in self.ip("route", "show").splitlines() if line.strip()]

    def open_socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket of this namespace, for a caller in another (a virtual shell's `nc`)."""
        return socket_in(self.path, family, kind)

    def preexec(self) -> Callable[[], None]:
        """For subprocess.Popen(preexec_fn=...): libc is loaded here, before the fork."""
        c = libc()
        return lambda: self.enter(c)

    def enter(self, c: ctypes.CDLL | None = None) -> None:
        """Move the calling process (a child before exec) into the namespace, as `ip netns exec`:
        its network namespace, and a private mount namespace with the namespace's resolv.conf."""
        c = c or libc()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if c.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        if self.resolv_conf.exists():
            if c.unshare(CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            if c.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
                raise OSError(ctypes.get_errno(), "mount --make-rslave /")
            if c.mount(bytes(self.resolv_conf), b"/etc/resolv.conf", None, MS_BIND, None) != 0:
                raise OSError(ctypes.get_errno(), "bind resolv.conf")


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
