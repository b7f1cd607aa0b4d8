"""Refuse QUIC (UDP 443) so apps fall back to TCP, where HTTP is read as usual.

    mitmdump --mode wireguard -s addons/quic.py --set audit_block_quic=true

What HTTP Toolkit and PCAPdroid do. With audit_block_quic, a UDP connection to port 443
is handed to a plain UDP layer instead of mitmproxy's QUIC one, its upstream
connection is refused before anything leaves, and the flow is recorded as `quic` with
the SNI of its ClientHello and a note. Without it the addon does nothing: mitmproxy
intercepts QUIC as HTTP/3 where it can.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from mitmproxy import ctx
from mitmproxy.proxy import layer, layers, server_hooks

from harness.proxy.payload import quic_sni
from harness.proxy.verdicts import add_note, audit_of

logger = logging.getLogger(__name__)

BLOCKED = "QUIC blocked (audit_block_quic): the app should fall back to TCP"


class Quic:
    def __init__(self) -> None:
        self._blocked: OrderedDict[str, None] = OrderedDict()  # server connection ids

    def load(self, loader):
        loader.add_option("audit_block_quic", bool, False, "Refuse QUIC (UDP 443) so apps fall back to TCP.")

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        context = nextlayer.context
        server = context.server
        if (
            not ctx.options.audit_block_quic
            or not isinstance(nextlayer.layer, layers.ServerQuicLayer | layers.ClientQuicLayer)
            or server.address is None
            or server.address[1] != 443
        ):
            return  # what mitmproxy picked (runs before this addon) is not QUIC to port 443
        udp_layer = layers.UDPLayer(context)
        nextlayer.layer = udp_layer
        self._blocked[server.id] = None
        if len(self._blocked) > 100_000:
            self._blocked.popitem(last=False)
        flow = udp_layer.flow
        if flow is None:
            return
        audit = audit_of(flow)
        audit["kind"] = "quic"
        _, sni = quic_sni(nextlayer.data_client())
        audit["quic"] = {"blocked": True, "sni": sni}
        add_note(audit, BLOCKED)
        logger.info("quic: blocked %s:%s (sni %s)", server.address[0], server.address[1], sni)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.id in self._blocked:
            data.server.error = BLOCKED


addons = [Quic()]
