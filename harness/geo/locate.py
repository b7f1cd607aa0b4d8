"""IP address -> country from several offline sources, organisation and confidence.

Pure and offline: nothing here touches the network. Sources are asked in the lab's order
(`geo.sources` in lab.yaml); each source's answer is kept so an auditor sees where a
country came from:

- `overrides`: the lab's own CIDR table (`geo.overrides`); it is authoritative, also for
  special-purpose ranges (a lab may map a documentation range to a country on purpose).
- `iptocc`: the regional internet registries' delegation files (offline, in the wheel).
- `geoip2fast`: MaxMind GeoLite2-derived country and ASN data (offline, in the wheel).
- `mmdb`: a user-supplied MaxMind database (needs the `maxminddb` package).

Without an override, private, loopback, link-local and reserved addresses get a label
and never a country. Confidence: `agree` (several sources, same answer), `disagree`,
`single` (one source answered), `unknown` (none did), `private` (a special address).
"""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from harness.config import GeoConfig
from harness.config.countries import is_country
from harness.errors import ConfigError
from harness.geo.orgs import OrgRule, load_org_table, match_org

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Confidence(StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    SINGLE = "single"
    UNKNOWN = "unknown"
    PRIVATE = "private"


@dataclass(frozen=True)
class GeoAnswer:
    ip: str
    country: str | None
    sources: dict[str, str | None] = field(default_factory=dict)
    confidence: Confidence = Confidence.UNKNOWN
    org: str | None = None
    org_country: str | None = None
    label: str | None = None  # loopback | private | link-local | multicast | reserved | ...; None if public


@dataclass(frozen=True)
class SourceAnswer:
    country: str | None
    org: str | None = None
    org_country: str | None = None


class Source(Protocol):
    name: str

    def lookup(self, addr: IPAddress) -> SourceAnswer: ...


def special_label(addr: IPAddress) -> str | None:
    """Why an address has no country, or None for a public address."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return special_label(addr.ipv4_mapped)
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _SHARED:
        return "shared"
    if any(addr in net for net in _PRIVATE):
        return "private"
    if addr.is_reserved or addr.is_private or not addr.is_global:
        return "reserved"
    return None


_SHARED = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def _country(code: Any) -> str | None:
    if isinstance(code, str) and is_country(code.upper()):
        return code.upper()
    return None


class OverrideSource:
    name = "overrides"

    def __init__(self, config: GeoConfig):
        nets = [(ipaddress.ip_network(o.cidr, strict=False), o) for o in config.overrides]
        # Most specific first, so a /28 inside a /24 wins.
        self._nets = sorted(nets, key=lambda item: -item[0].prefixlen)

    def lookup(self, addr: IPAddress) -> SourceAnswer:
        for net, override in self._nets:
            if addr.version == net.version and addr in net:
                return SourceAnswer(override.country, override.org, override.org_country)
        return SourceAnswer(None)


class IptoccSource:
    name = "iptocc"

    def __init__(self) -> None:
        from iptocc import country_code

        self._lookup = country_code

    def lookup(self, addr: IPAddress) -> SourceAnswer:
        try:
            return SourceAnswer(_country(self._lookup(str(addr))))
        except (ValueError, TypeError):
            return SourceAnswer(None)


@functools.cache
def _geoip2fast_db() -> Any:
    """The geoip2fast database (country + ASN, IPv4 and IPv6), loaded once per process."""
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz", verbose=False)


class Geoip2fastSource:
    name = "geoip2fast"

    def __init__(self) -> None:
        self._db = _geoip2fast_db()

    def lookup(self, addr: IPAddress) -> SourceAnswer:
        result = self._db.lookup(str(addr))
        org = (getattr(result, "asn_name", "") or "").strip() or None
        if org == "IANA.ORG":
            org = None
        return SourceAnswer(_country(getattr(result, "country_code", None)), org)


class MmdbSource:
    """A user-supplied MaxMind database (country or ASN edition)."""

    name = "mmdb"

    def __init__(self, path: Path | None):
        if path is None:
            raise ConfigError("geo source 'mmdb' needs geo.mmdb: the path of a .mmdb file")
        try:
            import maxminddb  # type: ignore[import-not-found]
        except ImportError as e:
            raise ConfigError(
                "geo source 'mmdb' needs the maxminddb package (pip install maxminddb), "
                "or remove 'mmdb' from geo.sources"
            ) from e
        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError) as e:
            raise ConfigError(f"{path}: cannot open the MaxMind database ({e})") from e

    def lookup(self, addr: IPAddress) -> SourceAnswer:
        record = self._reader.get(str(addr))
        if not isinstance(record, dict):
            return SourceAnswer(None)
        country = record.get("country") or record.get("registered_country") or {}
        org = record.get("autonomous_system_organization") or None
        return SourceAnswer(_country(country.get("iso_code") if isinstance(country, dict) else None), org)


def build_sources(config: GeoConfig) -> list[Source]:
    sources: list[Source] = []
    for name in config.sources:
        if name == "overrides":
            sources.append(OverrideSource(config))
        elif name == "iptocc":
            sources.append(IptoccSource())
        elif name == "geoip2fast":
            sources.append(Geoip2fastSource())
        elif name == "mmdb":
            sources.append(MmdbSource(config.mmdb))
        else:  # the config model only admits the names above
            raise ConfigError(f"unknown geo source {name!r}")
    return sources


def confidence_of(answers: dict[str, str | None]) -> Confidence:
    given = {code for code in answers.values() if code}
    count = sum(1 for code in answers.values() if code)
    if count == 0:
        return Confidence.UNKNOWN
    if count == 1:
        return Confidence.SINGLE
    return Confidence.AGREE if len(given) == 1 else Confidence.DISAGREE


class GeoLocator:
    """`locate(ip)` -> GeoAnswer, cached; build one per run (loading sources takes ~0.5 s)."""

    def __init__(
        self,
        config: GeoConfig | None = None,
        org_table: tuple[OrgRule, ...] | None = None,
        cache_size: int = 65536,
    ):
        self.config = config or GeoConfig()
        self.sources = build_sources(self.config)
        self._orgs = org_table if org_table is not None else load_org_table()
        self._cache: OrderedDict[str, GeoAnswer] = OrderedDict()
        self._cache_size = cache_size

    def locate(self, ip: str | None) -> GeoAnswer:
        key = ip or ""
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        answer = self._locate(key)
        self._cache[key] = answer
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return answer

    def _locate(self, ip: str) -> GeoAnswer:
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return GeoAnswer(ip, None, {}, Confidence.UNKNOWN, label="invalid" if ip else "none")
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        label = special_label(addr)
        answers: dict[str, SourceAnswer] = {}
        for source in self.sources:
            answers[source.name] = source.lookup(addr)
        override = answers.get("overrides")
        if label is not None and not (override and override.country):
            return GeoAnswer(str(addr), None, {}, Confidence.PRIVATE, label=label)
        if label is not None:
            label = None  # the lab mapped this special-purpose range to the world on purpose
        countries = {name: a.country for name, a in answers.items()}
        country = next((code for code in countries.values() if code), None)
        org = next((a.org for a in answers.values() if a.org), None)
        org_country = next((a.org_country for a in answers.values() if a.org_country), None)
        if org_country is None:
            matched = match_org(org, self._orgs)
            if matched is not None:
                org_country = matched.home_country
        return GeoAnswer(
            str(addr), country, countries, confidence_of(countries), org, org_country, label
        )
