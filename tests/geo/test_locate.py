"""harness.geo.locate: several offline sources, overrides, confidence, organisations, labels."""

from __future__ import annotations

import pytest

from harness.config.lab import GeoConfig, GeoOverride
from harness.errors import ConfigError
from harness.geo.locate import Confidence, GeoLocator, confidence_of, special_label
from harness.geo.orgs import match_org, parse_org_table, shipped_org_table


@pytest.fixture(scope="module")
def geo() -> GeoLocator:
    return GeoLocator(
        GeoConfig(
            sources=["overrides", "iptocc", "geoip2fast"],
            overrides=[
                GeoOverride(cidr="203.0.113.0/24", country="CN", org="Watch Cloud", org_country="CN"),
                GeoOverride(cidr="8.8.4.0/24", country="DE"),
            ],
        )
    )


@pytest.mark.parametrize(
    ("ip", "country", "confidence", "label"),
    [
        ("8.8.8.8", "US", Confidence.AGREE, None),
        ("203.0.113.10", "CN", Confidence.SINGLE, None),  # documentation range, overridden
        ("8.8.4.4", "DE", Confidence.DISAGREE, None),  # override against the databases
        ("127.0.0.1", None, Confidence.PRIVATE, "loopback"),
        ("10.1.2.3", None, Confidence.PRIVATE, "private"),
        ("192.168.1.1", None, Confidence.PRIVATE, "private"),
        ("169.254.1.1", None, Confidence.PRIVATE, "link-local"),
        ("100.64.0.1", None, Confidence.PRIVATE, "shared"),
        ("198.51.100.7", None, Confidence.PRIVATE, "reserved"),
        ("240.0.0.1", None, Confidence.PRIVATE, "reserved"),
        ("::1", None, Confidence.PRIVATE, "loopback"),
        ("fe80::1", None, Confidence.PRIVATE, "link-local"),
        ("::ffff:8.8.8.8", "US", Confidence.AGREE, None),
        ("not-an-ip", None, Confidence.UNKNOWN, "invalid"),
        ("<script>alert(1)</script>", None, Confidence.UNKNOWN, "invalid"),
    ],
)
def test_locate(geo: GeoLocator, ip: str, country: str | None, confidence: Confidence, label: str | None) -> None:
    answer = geo.locate(ip)
    assert answer.country == country
    assert answer.confidence == confidence
    assert answer.label == label


def test_sources_are_reported_each(geo: GeoLocator) -> None:
    answer = geo.locate("8.8.4.4")
    assert answer.sources == {"overrides": "DE", "iptocc": "US", "geoip2fast": "US"}


def test_override_org_and_home_country(geo: GeoLocator) -> None:
    answer = geo.locate("203.0.113.99")
    assert (answer.org, answer.org_country) == ("Watch Cloud", "CN")


@pytest.mark.parametrize(
    ("ip", "org_country"),
    [("8.8.8.8", "US"), ("49.44.0.1", "IN"), ("88.198.0.1", "DE"), ("119.28.0.1", "CN")],
)
def test_org_home_country_from_asn(geo: GeoLocator, ip: str, org_country: str) -> None:
    answer = geo.locate(ip)
    assert answer.org
    assert answer.org_country == org_country


def test_cached_answer_is_the_same_object(geo: GeoLocator) -> None:
    assert geo.locate("8.8.8.8") is geo.locate("8.8.8.8")


def test_order_of_sources_decides_the_country() -> None:
    only_db = GeoLocator(GeoConfig(sources=["iptocc"], overrides=[GeoOverride(cidr="8.8.8.0/24", country="DE")]))
    assert only_db.locate("8.8.8.8").country == "US"
    assert only_db.locate("8.8.8.8").confidence == Confidence.SINGLE


def test_mmdb_unavailable_is_a_config_error(tmp_path) -> None:
    # Without the maxminddb package (not a dependency) or with a missing file: a clear error.
    with pytest.raises(ConfigError, match="maxminddb|cannot open"):
        GeoLocator(GeoConfig(sources=["mmdb"], mmdb=tmp_path / "missing.mmdb"))


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, Confidence.UNKNOWN),
        ({"a": None, "b": None}, Confidence.UNKNOWN),
        ({"a": "US", "b": None}, Confidence.SINGLE),
        ({"a": "US", "b": "US"}, Confidence.AGREE),
        ({"a": "US", "b": "DE"}, Confidence.DISAGREE),
    ],
)
def test_confidence_of(answers: dict, expected: Confidence) -> None:
    assert confidence_of(answers) == expected


@pytest.mark.parametrize(
    ("asn", "org", "country"),
    [
        ("AMAZON-02", "Amazon", "US"),
        ("HUAWEI CLOUDS", "Huawei", "CN"),
        ("Tencent Building, Kejizhongyi Avenue", "Tencent", "CN"),
        ("Zhejiang Taobao Network Co.,Ltd", "Alibaba", "CN"),
        ("Vodafone Idea Ltd", "Vodafone Idea", "IN"),
        ("Vodafone GmbH", "Vodafone", "GB"),
        ("Bharti Airtel Ltd., Telemedia Services", "Bharti Airtel", "IN"),
        ("Some Small ISP", None, None),
    ],
)
def test_org_table(asn: str, org: str | None, country: str | None) -> None:
    match = match_org(asn, shipped_org_table())
    assert (match.org if match else None, match.home_country if match else None) == (org, country)


def test_org_table_rejects_bad_rows() -> None:
    with pytest.raises(ConfigError, match="row 1"):
        parse_org_table("amazon,Amazon,XX\n")
    with pytest.raises(ConfigError, match="bad pattern"):
        parse_org_table("(unclosed,Amazon,US\n")


def test_special_label_public_is_none() -> None:
    import ipaddress

    assert special_label(ipaddress.ip_address("1.1.1.1")) is None
