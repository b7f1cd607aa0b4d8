"""A flow's destination verdict: policy flags from the lab, country and org from geo.

Pure functions over a mitmproxy flow, shared by the destinations addon and `lab import`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mitmproxy import flow as mflow
from mitmproxy import http, tcp, udp

from harness.config import Flag, GeoConfig, GeoOverride
from harness.config.countries import is_country
from harness.errors import ConfigError
from harness.geo import GeoAnswer, GeoLocator
from harness.names import clean_host
from harness.proxy.verdicts import add_flags, audit_of, connected_ip, flow_host, raw_fields

OPAQUE_PROTOCOLS = frozenset({"tls", "quic"})  # encrypted payloads: passed on unread, not cleartext


@dataclass(frozen=True)
class DestinationPolicy:
    jurisdiction: str | None
    allowed_countries: frozenset[str]
    watchlist: frozenset[str]
    allowed_domains: tuple[str, ...]

    def domain_allowed(self, host: str | None) -> bool:
        if not self.allowed_domains:
            return True
        if not host:
            return False
        for domain in self.allowed_domains:
            if domain.startswith("*."):
                if host.endswith(domain[1:]):
                    return True
            elif host == domain:
                return True
        return False


def _countries(values: Sequence[str], what: str) -> frozenset[str]:
    codes = [c.strip().upper() for value in values for c in value.split(",") if c.strip()]
    bad = [c for c in codes if not is_country(c)]
    if bad:
        raise ValueError(f"{what}: {', '.join(bad)} not ISO 3166 country codes")
    return frozenset(codes)


def parse_policy(
    jurisdiction: str, allowed: Sequence[str], watchlist: Sequence[str], domains: Sequence[str]
) -> DestinationPolicy:
    home = jurisdiction.strip().upper() or None
    if home and not is_country(home):
        raise ValueError(f"audit_jurisdiction: {jurisdiction!r} is not an ISO 3166 country code")
    allowed_set = _countries(allowed, "audit_allowed_countries") or (frozenset({home}) if home else frozenset())
    names = tuple(d.strip().lower().rstrip(".") for value in domains for d in value.split(",") if d.strip())
    return DestinationPolicy(home, allowed_set, _countries(watchlist, "audit_watchlist"), names)


def parse_overrides(specs: Sequence[str]) -> list[GeoOverride]:
    """`CIDR=CC` or `CIDR=CC:org name:ORG_CC` -> overrides."""
    result = []
    for spec in specs:
        cidr, sep, rest = spec.partition("=")
        if not sep:
            raise ValueError(f"audit_geo_overrides: {spec!r} is not CIDR=CC[:org[:org country]]")
        country, _, org_part = rest.partition(":")
        org, _, org_country = org_part.partition(":")
        try:
            result.append(
                GeoOverride(cidr=cidr.strip(), country=country.strip().upper(), org=org.strip() or None,
                            org_country=org_country.strip().upper() or None)
            )
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise ValueError(f"audit_geo_overrides: {spec!r}: {e}") from e
    return result


def parse_geo(sources: Sequence[str], overrides: Sequence[str], mmdb: str) -> GeoLocator:
    try:
        config = GeoConfig(sources=list(sources), overrides=parse_overrides(overrides), mmdb=mmdb or None)
        return GeoLocator(config)
    except ConfigError as e:
        raise ValueError(str(e)) from e


def classify(flow: mflow.Flow, policy: DestinationPolicy, geo: GeoLocator) -> dict:
    """The destination verdict for one flow (also written into its audit dict)."""
    audit = audit_of(flow)
    host = flow_host(flow)
    server_ip = audit.get("world_ip") or connected_ip(flow)
    address = flow.server_conn.address
    answer: GeoAnswer = geo.locate(server_ip)
    audit.update(
        host=host,
        sni=clean_host(flow.client_conn.sni),
        server_ip=server_ip,
        server_port=audit.get("world_port") or (address[1] if address else None),
        country=answer.country,
        country_sources=dict(answer.sources),
        country_confidence=str(answer.confidence),
        org=answer.org,
        org_country=answer.org_country,
        geo_label=answer.label,
    )
    flags: list[str] = []
    country = answer.country
    if country and policy.allowed_countries and country not in policy.allowed_countries:
        flags.append(Flag.FOREIGN)
    if country and country in policy.watchlist:
        flags.append(Flag.WATCHLIST_COUNTRY)
    if (
        country
        and country in policy.allowed_countries
        and answer.org_country
        and answer.org_country not in policy.allowed_countries
    ):
        flags.append(Flag.FOREIGN_ORG)
    if not policy.domain_allowed(host):
        flags.append(Flag.NOT_ALLOWLISTED)
    if _cleartext(flow):
        flags.append(Flag.CLEARTEXT)
    failure = audit.get("tls_failure")
    if isinstance(failure, dict) and failure.get("side") == "client":
        flags.append(Flag.TLS_REJECTED)
    add_flags(audit, *(str(f) for f in flags))
    return audit


def _cleartext(flow: mflow.Flow) -> bool:
    if isinstance(flow, http.HTTPFlow):
        if flow.request.method == "CONNECT":
            return False
        return flow.request.scheme == "http"
    if isinstance(flow, tcp.TCPFlow | udp.UDPFlow):
        if flow.client_conn.tls_established or not flow.messages:
            return False
        # TLS or QUIC passed on undecrypted is unread, not cleartext: only other payloads are
        audit = audit_of(flow)
        if audit.get("kind") == "quic" or audit.get("quic") or audit.get("payload_sni"):
            return False
        fields = raw_fields(flow, audit)
        return fields["protocol"] not in OPAQUE_PROTOCOLS and not fields["payload_sni"]
    return False
