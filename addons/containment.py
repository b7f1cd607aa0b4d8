"""Contained network mode: upstream connections go to the lab's responders, nowhere else.

    mitmdump -s addons/containment.py --set audit_zone=zone.json

The zone (zone.json, docs/architecture.md) maps hostnames to a world IP and, per port,
a responder on loopback. A server connection to a zone host (by name or by world IP) is
redirected to its responder and verified against the zone's CA; the flow keeps the
world IP (flow.metadata["audit"]["world_ip"]) so it is classified as if it had gone out.
A host not in the zone is refused before any connection or DNS lookup: nothing leaves
the lab, and the flow is recorded with a note. The same holds for raw TCP, UDP and QUIC
connections (WireGuard mode): a zone IP and port go to its responder, anything else is
refused. DNS queries, to the tunnel's resolver or any other, are answered from the zone
(A: the world IP; other types: no data; a name not in the zone: NXDOMAIN) and mitmproxy's
own resolver is taken out, so no real resolver is ever asked.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import OrderedDict

from mitmproxy import ctx, dns, exceptions, http, tcp, udp
from mitmproxy import flow as mflow
from mitmproxy.proxy import server_hooks

from harness.capture import Zone, parse_zone
from harness.names import clean_host
from harness.proxy.verdicts import add_note, audit_of, flow_host

logger = logging.getLogger(__name__)

REFUSED = "contained: not in the lab's zone"


class Containment:
    def __init__(self) -> None:
        self.zone: Zone | None = None
        # server connection id -> (world ip, world port, responder)
        self._routes: OrderedDict[str, tuple[str, int, str]] = OrderedDict()

    def load(self, loader):
        loader.add_option(
            "audit_zone", str, "",
            "Contained mode: zone.json mapping hostnames to world IPs and loopback responders.",
        )

    def configure(self, updated):
        if "audit_zone" not in updated:
            return
        try:
            self.zone = parse_zone(ctx.options.audit_zone)
        except ValueError as e:
            raise exceptions.OptionsError(f"audit_zone: {e}") from e
        if self.zone is not None and self.zone.ca is not None and not ctx.options.ssl_verify_upstream_trusted_ca:
            ctx.options.update(ssl_verify_upstream_trusted_ca=str(self.zone.ca))

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if self.zone is None or data.server.address is None:
            return
        host, port = clean_host(data.server.address[0]), data.server.address[1]
        entry = self.zone.lookup(host)
        responder = entry.ports.get(port) if entry else None
        if entry is None or responder is None:
            data.server.error = f"{REFUSED} ({host}:{port}); nothing left the lab"
            logger.info("contained: refused %s:%s (not in the zone)", host, port)
            return
        self._routes[data.server.id] = (entry.world_ip, port, f"{responder[0]}:{responder[1]}")
        if len(self._routes) > 100_000:
            self._routes.popitem(last=False)
        if not data.server.sni:
            # verify the responder as the host the client asked for, not as 127.0.0.x
            data.server.sni = host
        data.server.address = responder

    def running(self) -> None:
        self._no_real_resolver()

    def _no_real_resolver(self) -> None:
        """mitmproxy's resolver runs before this addon's dns_request: in contained mode
        it must not run at all."""
        if self.zone is None:
            return
        resolver = ctx.master.addons.get("dnsresolver")
        if resolver is not None:
            ctx.master.addons.remove(resolver)
            logger.info("contained: DNS is answered from the lab's zone only")

    def dns_request(self, flow: dns.DNSFlow) -> None:
        if self.zone is None or flow.response is not None or not flow.live:
            return
        request = flow.request
        question = request.question
        audit = audit_of(flow)
        audit["dns_answered_by"] = "zone"
        if question is None or not request.query:
            flow.response = request.fail(dns.response_codes.FORMERR)
            return
        entry = self.zone.lookup(clean_host(question.name))
        if entry is None:
            flow.response = request.fail(dns.response_codes.NXDOMAIN)
            add_note(audit, "contained: name not in the lab's zone; answered NXDOMAIN, no resolver asked")
            return
        world = ipaddress.ip_address(entry.world_ip)
        answers = []
        if question.type == dns.types.A and world.version == 4:
            answers.append(dns.ResourceRecord.A(question.name, world))
        elif question.type == dns.types.AAAA and world.version == 6:
            answers.append(dns.ResourceRecord.AAAA(question.name, world))
        flow.response = request.succeed(answers)

    def _mark(self, flow: mflow.Flow) -> None:
        if self.zone is None:
            return
        audit = audit_of(flow)
        route = self._routes.get(flow.server_conn.id)
        if route is None:
            entry = self.zone.lookup(flow_host(flow))
            if entry is not None:
                route = (entry.world_ip, 0, "")
        if route is not None:
            audit["world_ip"] = route[0]
            if route[1]:
                audit["world_port"] = route[1]
            audit["contained"] = {"responder": route[2] or None}
        errors = (flow.error.msg if flow.error else "", flow.server_conn.error or "")
        if any(REFUSED in text for text in errors):
            audit["contained"] = {"refused": True}
            add_note(audit, "contained: host not in the lab's zone; connection refused, nothing left the lab")

    def response(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self._mark(flow)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self._mark(flow)

    def udp_end(self, flow: udp.UDPFlow) -> None:
        self._mark(flow)

    def udp_error(self, flow: udp.UDPFlow) -> None:
        self._mark(flow)


addons = [Containment()]
