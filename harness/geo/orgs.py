"""The curated organisation table: ASN name -> organisation and its home country.

A server of a foreign-headquartered cloud in a domestic data centre is a finding of its
own (`foreign_org`), so the harness needs to know where an organisation is based, not
only where its address is routed. The table ships with the project
(`harness/geo/orgs.csv`): one row per organisation, an ASN-name pattern (a regular
expression searched case-insensitively), the organisation's name and its ISO country.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from harness.config.countries import is_country
from harness.config.csv_table import csv_rows
from harness.errors import ConfigError


@dataclass(frozen=True)
class OrgRule:
    pattern: re.Pattern[str]
    org: str
    home_country: str


@dataclass(frozen=True)
class OrgMatch:
    org: str
    home_country: str


def parse_org_table(text: str, origin: str = "orgs.csv") -> tuple[OrgRule, ...]:
    """Rows `pattern,org,home_country`; lines starting with `#` are comments."""
    rules: list[OrgRule] = []
    for number, row in csv_rows(text, ["pattern", "org", "home_country"], origin, header_optional=True):
        pattern, org, country = row
        if not is_country(country):
            raise ConfigError(f"{origin}: row {number}: {country!r} is not a country code")
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as e:
            raise ConfigError(f"{origin}: row {number}: bad pattern {pattern!r}: {e}") from e
        rules.append(OrgRule(compiled, org, country))
    return tuple(rules)


@functools.cache
def shipped_org_table() -> tuple[OrgRule, ...]:
    text = resources.files("harness.geo").joinpath("orgs.csv").read_text(encoding="utf-8")
    return parse_org_table(text, "harness/geo/orgs.csv")


def load_org_table(path: Path | None = None) -> tuple[OrgRule, ...]:
    if path is None:
        return shipped_org_table()
    try:
        return parse_org_table(path.read_text(encoding="utf-8"), str(path))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the organisation table ({e})") from e


def match_org(asn_name: str | None, rules: tuple[OrgRule, ...]) -> OrgMatch | None:
    """The first rule whose pattern occurs in the ASN name."""
    if not asn_name:
        return None
    for rule in rules:
        if rule.pattern.search(asn_name):
            return OrgMatch(rule.org, rule.home_country)
    return None
