"""Contained network mode: upstream connections go to the lab's responders, nowhere else.

    mitmdump -s addons/containment.py --set audit_zone=zone.json

The zone (zone.json, docs/architecture.md) maps hostnames to a world IP and, per port,
a responder on loopback. A server connection to a zone host (by name or by world IP) is
redirected to its responder and verified against the zone's CA; the flow keeps the
world IP (flow.metadata["audit"]["world_ip"]) so it is classified as if it had gone out.
A host not in the zone is refused before any connection or DNS lookup: nothing leaves
the lab, and the flow is recorded with a note.

An HTTP request to a zone host is sent to its responder at the request (its host and port,
not its Host header, until the response's headers arrive), so that mitmproxy asks for a
connection to the responder and reuses it for the next request: had only the connection
been redirected, no request would ever match it again, and with mitmproxy's 5 open
connections per address the 6th request on one keep-alive client would wait forever.
Such a connection still presents the host's name as SNI and is verified as that name.

Raw TCP, UDP and QUIC connections (WireGuard mode) are redirected at the connection: a
zone IP and port go to its responder, anything else is refused. DNS queries, to the tunnel's resolver or any other, are answered from the zone
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
        # (client connection id, responder) -> (world ip, world port, SNI) of the HTTP request
        # just sent there, for the connection that request may open
        self._asked: OrderedDict[tuple[str, tuple[str, int]], tuple[str, int, str]] = OrderedDict()
        # flow id -> the (host, port) its request asked for, put back once it was sent
        self._redirected: dict[str, tuple[str, int]] = {}

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

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # before mitmproxy asks for a server connection (after this hook if the body streams)
        if self.zone is None or not flow.live or flow.response is not None:
            return
        request = flow.request
        asked_for = (request.host, request.port)
        route = self._routes.get(flow.server_conn.id)
        if route is not None and asked_for == flow.server_conn.address:
            # in a tunnel (CONNECT, WireGuard) mitmproxy took the request's host from the
            # tunnel's connection, already at the responder: should that one be closed, the
            # new connection is to the responder's address and must be routed as the host
            self._ask(flow, asked_for, route[0], route[1], flow.server_conn.sni or "")
            return
        host = clean_host(request.host)
        entry = self.zone.lookup(host) if host else None
        responder = entry.ports.get(request.port) if entry else None
        if entry is None or responder is None:
            return  # not a zone host: refused at server_connect
        self._ask(flow, responder, entry.world_ip, request.port, clean_host(flow.client_conn.sni) or host)
        self._redirected[flow.id] = asked_for
        request.data.host, request.data.port = responder

    def _ask(self, flow: http.HTTPFlow, responder: tuple[str, int], world_ip: str, world_port: int, sni: str) -> None:
        self._asked[(flow.client_conn.id, responder)] = (world_ip, world_port, sni)
        if len(self._asked) > 100_000:
            self._asked.popitem(last=False)

    def _put_back(self, flow: http.HTTPFlow) -> None:
        asked = self._redirected.pop(flow.id, None)
        if asked is not None:
            flow.request.data.host, flow.request.data.port = asked

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._put_back(flow)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if self.zone is None or data.server.address is None:
            return
        address = (str(data.server.address[0]), int(data.server.address[1]))
        asked = self._asked.pop((data.client.id, address), None)
        if asked is not None:  # an HTTP request sent to this responder by requestheaders
            world_ip, world_port, sni = asked
            self._route(data.server.id, world_ip, world_port, address)
            # mitmproxy chose the responder's IP as SNI: verify it as the host asked for
            data.server.sni = sni or data.server.sni
            return
        host, port = clean_host(data.server.address[0]), data.server.address[1]
        entry = self.zone.lookup(host)
        responder = entry.ports.get(port) if entry else None
        if entry is None or responder is None:
            data.server.error = f"{REFUSED} ({host}:{port}); nothing left the lab"
            logger.info("contained: refused %s:%s (not in the zone)", host, port)
            return
        self._route(data.server.id, entry.world_ip, port, responder)
        if not data.server.sni:
            # verify the responder as the host the client asked for, not as 127.0.0.x
            data.server.sni = host
        data.server.address = responder

    def _route(self, server_id: str, world_ip: str, world_port: int, responder: tuple[str, int]) -> None:
        self._routes[server_id] = (world_ip, world_port, f"{responder[0]}:{responder[1]}")
        if len(self._routes) > 100_000:
            self._routes.popitem(last=False)

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
        self._put_back(flow)
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
