"""addons/destinations.py with taddons/tflow: country, org, confidence and policy flags."""

from __future__ import annotations

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils

from addons.destinations import Destinations
from harness.proxy.classify import parse_overrides, parse_policy

OPTIONS = {
    "audit_jurisdiction": "IN",
    "audit_watchlist": ["CN", "RU"],
    "audit_allowed_domains": ["*.gov.in", "vendor.example.in"],
    "audit_geo_overrides": ["203.0.113.0/24=CN", "198.51.100.0/24=IN:AMAZON-02"],
}


def http_flow(ip: str, host: str, scheme: str = "https", tls: bool = True):
    flow = tflow.tflow(resp=True, req=tutils.treq(host=host, port=443 if scheme == "https" else 80, scheme=scheme))
    flow.request.headers["host"] = host
    flow.server_conn.peername = (ip, 443)
    flow.server_conn.address = (host, 443)
    flow.client_conn.tls = tls
    flow.client_conn.sni = host if tls else None
    return flow


@pytest.mark.parametrize(
    ("ip", "host", "scheme", "country", "flags"),
    [
        ("8.8.8.8", "api.example.com", "https", "US", {"foreign", "not_allowlisted"}),
        ("203.0.113.9", "x.gov.in", "http", "CN", {"foreign", "watchlist_country", "cleartext"}),
        ("49.44.0.1", "vendor.example.in", "https", "IN", set()),
        ("198.51.100.7", "cdn.vendor.example.in", "https", "IN", {"foreign_org", "not_allowlisted"}),
        ("127.0.0.1", "vendor.example.in", "https", None, set()),
        ("10.0.0.8", "gov.in", "https", None, {"not_allowlisted"}),  # *.gov.in is subdomains only
    ],
)
def test_flags(ip: str, host: str, scheme: str, country: str | None, flags: set[str]) -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **OPTIONS)
        flow = http_flow(ip, host, scheme, tls=scheme == "https")
        addon.response(flow)
        audit = flow.metadata["audit"]
        assert audit["country"] == country
        assert set(audit["flags"]) == flags
        assert audit["host"] == host
        assert audit["server_ip"] == ip


def test_sources_confidence_and_org() -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **OPTIONS)
        flow = http_flow("8.8.8.8", "dns.google")
        addon.response(flow)
        audit = flow.metadata["audit"]
        assert audit["country_sources"] == {"overrides": None, "iptocc": "US", "geoip2fast": "US"}
        assert audit["country_confidence"] == "agree"
        assert audit["org"] == "GOOGLE" and audit["org_country"] == "US"
        loopback = http_flow("127.0.0.1", "localhost")
        addon.response(loopback)
        assert loopback.metadata["audit"]["country_confidence"] == "private"
        assert loopback.metadata["audit"]["geo_label"] == "loopback"


def test_world_ip_from_containment_wins_over_the_connected_address() -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **OPTIONS)
        flow = http_flow("127.0.0.21", "analytics.vendor-cloud.example")
        flow.metadata["audit"] = {"world_ip": "203.0.113.10", "world_port": 443}
        addon.error(flow)
        audit = flow.metadata["audit"]
        assert (audit["server_ip"], audit["server_port"], audit["country"]) == ("203.0.113.10", 443, "CN")
        assert "watchlist_country" in audit["flags"]


def test_tls_failure_on_the_client_side_is_tls_rejected() -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **OPTIONS)
        flow = tflow.ttcpflow(err=True)
        flow.metadata["audit"] = {"kind": "tls_failed", "tls_failure": {"side": "client", "error": "unknown ca"}}
        addon.tcp_error(flow)
        assert "tls_rejected" in flow.metadata["audit"]["flags"]


def test_other_flags_are_kept() -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **OPTIONS)
        flow = http_flow("8.8.8.8", "api.example.com")
        flow.metadata["audit"] = {"flags": ["sensitive_data"]}
        addon.response(flow)
        assert flow.metadata["audit"]["flags"][0] == "sensitive_data"


def test_hostile_hostname_is_data() -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **OPTIONS)
        host = "<script>alert(1)</script>.example"
        flow = http_flow("8.8.8.8", "x.example")
        flow.request.headers["host"] = host
        addon.response(flow)
        assert flow.metadata["audit"]["host"] == host


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"audit_jurisdiction": "XX"}, "not an ISO 3166"),
        ({"audit_watchlist": ["CN", "ZZ"]}, "ZZ"),
        ({"audit_geo_overrides": ["10.0.0.0/8"]}, "CIDR=CC"),
        ({"audit_geo_overrides": ["not-a-cidr=CN"]}, "not a CIDR"),
        ({"audit_geo_sources": ["mmdb"]}, "mmdb"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    addon = Destinations()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match=message):
            tctx.configure(addon, **options)


def test_parse_helpers() -> None:
    policy = parse_policy("in", [], ["cn"], ["A.Example.", "*.b.example"])
    assert policy.allowed_countries == {"IN"} and policy.watchlist == {"CN"}
    assert policy.domain_allowed("a.example") and policy.domain_allowed("x.y.b.example")
    assert not policy.domain_allowed("b.example") and not policy.domain_allowed(None)
    (override,) = parse_overrides(["203.0.113.0/24=cn:Some Org:us"])
    assert (override.country, override.org, override.org_country) == ("CN", "Some Org", "US")
