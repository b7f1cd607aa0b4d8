"""Classify where each flow went: host, server IP, country, organisation, policy flags.

    mitmdump -s addons/destinations.py --set audit_jurisdiction=IN \
        --set audit_watchlist=CN,RU --set audit_geo_overrides=203.0.113.0/24=CN

Verdicts go into flow.metadata["audit"]: host, sni, server_ip (in contained mode the
world IP the containment addon recorded), server_port, country, country_sources,
country_confidence, org, org_country, geo_label and flags: foreign, watchlist_country,
not_allowlisted, cleartext, tls_rejected, foreign_org (bypassed_proxy is set later by
analysis, from the Frida connect hook). Raw TCP/UDP flows are named by their TLS/QUIC
SNI, else by the DNS answer that led to their IP (addons/dnsmap.py); a DNS flow's
destination is the resolver asked and its host the name looked up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mitmproxy import ctx, dns, exceptions, http, tcp, tls, udp
from mitmproxy import flow as mflow

from harness.geo import GeoLocator
from harness.names import clean_host
from harness.proxy.classify import DestinationPolicy, classify, parse_geo, parse_policy
from harness.proxy.verdicts import audit_of, raw_fields

logger = logging.getLogger(__name__)


class Destinations:
    def __init__(self) -> None:
        self.policy = DestinationPolicy(None, frozenset(), frozenset(), ())
        self.geo: GeoLocator | None = None

    def load(self, loader):
        loader.add_option("audit_jurisdiction", str, "", "The lab's country (ISO 3166), e.g. IN.")
        loader.add_option(
            "audit_allowed_countries", Sequence[str], [],
            "Countries that are not foreign (default: the jurisdiction).",
        )
        loader.add_option("audit_watchlist", Sequence[str], [], "Watch-list countries, e.g. CN,RU.")
        loader.add_option(
            "audit_allowed_domains", Sequence[str], [],
            "Allowed destination domains (*.example.com for subdomains); others get not_allowlisted.",
        )
        loader.add_option(
            "audit_geo_sources", Sequence[str], ["overrides", "iptocc", "geoip2fast"],
            "Geolocation sources in order: overrides, iptocc, geoip2fast, mmdb.",
        )
        loader.add_option(
            "audit_geo_overrides", Sequence[str], [],
            "CIDR overrides: CIDR=CC or CIDR=CC:org:ORG_CC.",
        )
        loader.add_option("audit_geo_mmdb", str, "", "A MaxMind .mmdb file (source mmdb).")

    def configure(self, updated):
        opts = ctx.options
        if updated & {"audit_jurisdiction", "audit_allowed_countries", "audit_watchlist", "audit_allowed_domains"}:
            try:
                self.policy = parse_policy(
                    opts.audit_jurisdiction, opts.audit_allowed_countries,
                    opts.audit_watchlist, opts.audit_allowed_domains,
                )
            except ValueError as e:
                raise exceptions.OptionsError(str(e)) from e
        if self.geo is None or updated & {"audit_geo_sources", "audit_geo_overrides", "audit_geo_mmdb"}:
            try:
                self.geo = parse_geo(opts.audit_geo_sources, opts.audit_geo_overrides, opts.audit_geo_mmdb)
            except ValueError as e:
                raise exceptions.OptionsError(f"audit geo options: {e}") from e

    def _classify(self, flow: mflow.Flow) -> None:
        if self.geo is None:
            return
        if isinstance(flow, tcp.TCPFlow | udp.UDPFlow) and "payload_sni" not in audit_of(flow):
            # a ClientHello mitmproxy did not intercept still names the host
            audit_of(flow)["payload_sni"] = raw_fields(flow, audit_of(flow))["payload_sni"]
        audit = classify(flow, self.policy, self.geo)
        logger.info(
            "destination %s (%s) %s %s flags=%s",
            audit.get("host"), audit.get("server_ip"), audit.get("country") or audit.get("geo_label") or "?",
            audit.get("org") or "", ",".join(audit.get("flags", [])) or "-",
        )

    def response(self, flow: http.HTTPFlow) -> None:
        self._classify(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._classify(flow)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        self._classify(flow)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self._classify(flow)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self._classify(flow)

    def udp_end(self, flow: udp.UDPFlow) -> None:
        self._classify(flow)

    def udp_error(self, flow: udp.UDPFlow) -> None:
        self._classify(flow)

    def dns_response(self, flow: dns.DNSFlow) -> None:
        # the destination of a DNS flow is the resolver asked; the name is its host
        self._classify(flow)

    def dns_error(self, flow: dns.DNSFlow) -> None:
        self._classify(flow)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        # Recorded by the flowlog addon as a flow of its own; here only said.
        server = data.context.server
        logger.info(
            "tls_rejected: client %s refused our certificate for %s",
            data.context.client.peername, clean_host(data.conn.sni) or (server.address and server.address[0]),
        )


addons = [Destinations()]
