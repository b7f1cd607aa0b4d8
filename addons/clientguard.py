"""Only listed clients may use the proxy: an open proxy on a lab network is a hole.

    mitmdump -s addons/clientguard.py --set audit_client_allowlist=10.0.5.0/24

With an allowlist, a client whose address is not in one of its networks is disconnected
as it connects. An empty allowlist admits everyone (the proxy listens on loopback, or
proxy authentication — mitmproxy's `proxyauth` option — guards it). A WireGuard-mode
client is not checked here: its address is the one inside the tunnel, and the handset's
key already authenticated it (lab.yaml's allowlist gates where that server may listen).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from mitmproxy import connection, ctx, exceptions
from mitmproxy.proxy import mode_specs

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowlist(values: Sequence[str]) -> tuple[Network, ...]:
    nets = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                nets.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as e:
                raise ValueError(f"{item!r} is not a CIDR") from e
    return tuple(nets)


def client_allowed(peer: str, nets: tuple[Network, ...]) -> bool:
    if not nets:
        return True
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in nets)


class ClientGuard:
    def __init__(self) -> None:
        self.nets: tuple[Network, ...] = ()

    def load(self, loader):
        loader.add_option(
            "audit_client_allowlist", Sequence[str], [],
            "CIDRs of the clients allowed to use the proxy (empty: everyone).",
        )

    def configure(self, updated):
        if "audit_client_allowlist" in updated:
            try:
                self.nets = parse_allowlist(ctx.options.audit_client_allowlist)
            except ValueError as e:
                raise exceptions.OptionsError(f"audit_client_allowlist: {e}") from e

    def client_connected(self, client: connection.Client) -> None:
        if not self.nets or not client.peername or isinstance(client.proxy_mode, mode_specs.WireGuardMode):
            return
        if not client_allowed(str(client.peername[0]), self.nets):
            client.error = "client not in audit_client_allowlist"
            logger.warning("refused proxy client %s: not in the allowlist", client.peername[0])


addons = [ClientGuard()]
