"""The lab's WireGuard keys per handset, and the tunnel a handset's client is given.

Each handset has its own key pair file under the lab's state_dir
(`<state_dir>/wireguard/<lab>/<handset>.json`, owner-only), in the JSON mitmproxy's
WireGuard mode reads (`{"server_key": ..., "client_key": ...}`), made once with
mitmproxy_rs's own key generator and kept, so a phone's imported tunnel stays valid
between runs. One mitmproxy WireGuard server per handset: every flow knows its handset.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mitmproxy_rs

from harness.errors import ProxyError
from harness.names import file_name

CLIENT_ADDRESS = "10.0.0.1/32"  # what mitmproxy's WireGuard mode gives its one peer
CLIENT_ADDRESS6 = "fdc8:7f9a:d6b1::1/128"  # a ULA, so IPv6 has a route into the tunnel too
TUNNEL_DNS = "10.0.0.53"  # mitmproxy answers DNS sent here itself
MTU = 1420


@dataclass(frozen=True)
class WireGuardKeys:
    path: Path
    server_key: str
    client_key: str

    @property
    def server_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.server_key))

    @property
    def client_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.client_key))


def keys_path(state_dir: Path, lab_name: str, device: str | None) -> Path:
    return Path(state_dir) / "wireguard" / file_name(lab_name, "lab") / f"{file_name(device or 'handset', 'handset')}.json"


def handset_keys(path: Path) -> WireGuardKeys:
    """The key pair in `path`, made (owner-only) if it does not exist yet."""
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            data = {"server_key": mitmproxy_rs.wireguard.genkey(), "client_key": mitmproxy_rs.wireguard.genkey()}
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
        except FileExistsError:
            pass  # another process made it meanwhile: read theirs
        except OSError as e:
            raise ProxyError(f"cannot write the WireGuard keys {path}: {e}") from e
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = WireGuardKeys(path, str(data["server_key"]), str(data["client_key"]))
        keys.server_public, keys.client_public  # noqa: B018 - a bad key fails here, not in mitmproxy
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ProxyError(f"bad WireGuard key file {path}: {e} (delete it to make new keys)") from e
    return keys


def interface_address(name: str) -> str:
    """The first IPv4 address of a lab interface (`ip -j addr show dev NAME`)."""
    try:
        done = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", name],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProxyError(f"cannot read the address of interface {name}: {e}") from e
    try:
        links = json.loads(done.stdout or "[]")
    except ValueError:
        links = []
    for link in links:
        for info in link.get("addr_info", ()):
            if info.get("family") == "inet" and info.get("local"):
                return str(ipaddress.ip_address(info["local"]))
    raise ProxyError(f"interface {name} (proxy.wireguard_interface) has no IPv4 address: {done.stderr.strip()}")


@dataclass(frozen=True)
class Tunnel:
    """What a handset's WireGuard client needs: wg-quick text, or the parts for `wg set`."""

    endpoint_host: str
    endpoint_port: int
    server_public: str
    client_private: str
    client_public: str
    keyfile: Path

    @property
    def endpoint(self) -> str:
        host = self.endpoint_host
        return f"[{host}]:{self.endpoint_port}" if ":" in host else f"{host}:{self.endpoint_port}"

    def wg_quick(self) -> str:
        """The tunnel in wg-quick syntax (what the WireGuard app imports as `<name>.conf`)."""
        return "\n".join([
            "[Interface]",
            f"PrivateKey = {self.client_private}",
            f"Address = {CLIENT_ADDRESS}, {CLIENT_ADDRESS6}",
            f"DNS = {TUNNEL_DNS}",
            f"MTU = {MTU}",
            "",
            "[Peer]",
            f"PublicKey = {self.server_public}",
            "AllowedIPs = 0.0.0.0/0, ::/0",
            f"Endpoint = {self.endpoint}",
            "",
        ])
