"""Destinations seen only through DNS (issue 20): names looked up and never connected to,
with their answers, where those are, who asked and how often."""

from __future__ import annotations

from support.capture_builder import BYPASS_HOST, TELEMETRY_HOST
from support.raw_capture import (
    BEACON_HOST,
    CLOCK_HOST,
    PARTNER_HOST,
    PARTNER_IP,
    PUSH_HOST,
    FullCaptureBuilder,
    build_full,
)

from harness.analysis.dns_lookups import DNS_ONLY_COLUMNS
from harness.analysis.frames import analyse
from harness.config import Policy

POLICY = Policy(allowed_countries=["IN"], watchlist_countries=["CN"])


def test_a_name_only_looked_up_has_its_own_row(tmp_path) -> None:
    a = analyse([build_full(tmp_path / "run", "vendor-1.1")], POLICY)
    table = a.dns_only
    assert list(table.columns) == DNS_ONLY_COLUMNS
    assert list(table["name"]) == [PARTNER_HOST, CLOCK_HOST]  # the watch-list one first
    partner = table.iloc[0]
    assert (partner["answers"], partner["country"], partner["org"]) == (PARTNER_IP, "CN", "Partner Metrics Co")
    assert partner["apps"] == "com.vendor.weather" and partner["lookups"] == 3
    assert partner["flags"] == "foreign,watchlist_country" and partner["severity"] == "high"
    assert partner["resolvers"] == "10.0.0.53:53" and partner["rcodes"] == "NOERROR"
    assert len(partner["evidence"].split()) == 3
    clock = table.iloc[1]
    assert (clock["country"], clock["flags"], clock["severity"]) == ("IN", "", "info")
    # looked up and connected to (HTTP, raw TCP by name, UDP): destinations, not DNS-only
    assert not {TELEMETRY_HOST, PUSH_HOST, BEACON_HOST} & set(table["name"])
    assert a.summary["counts"]["dns_only_names"] == 2


def test_a_connection_to_an_answer_address_or_around_the_proxy_counts(tmp_path) -> None:
    b = FullCaptureBuilder(tmp_path / "run").vendor_scenario()
    b.dns("cdn.example", ["198.51.100.99"], at=10)
    b.raw("tcp", None, "198.51.100.99", 7000, at=11, geo={"country": "US", "org": "X", "org_country": "US"},
          up=10, down=0)  # recorded by its address only: the name came from the answer
    b.dns(BYPASS_HOST, ["203.0.113.99"], at=84)  # its connection only Frida saw (around the proxy or tunnel)
    b.dns("alias.example", ["edge.cdn.example", "198.51.100.99"], at=12)  # a CNAME chain to the address
    b.dns("nothing.example", [], at=13)
    a = analyse([b.write()], POLICY)
    assert list(a.dns_only["name"]) == ["nothing.example"]
    assert a.dns_only.iloc[0]["rcodes"] == "NXDOMAIN" and a.dns_only.iloc[0]["answers"] == ""


def test_no_lookups_no_rows(tmp_path) -> None:
    a = analyse([FullCaptureBuilder(tmp_path / "run", mode="explicit").vendor_scenario().write()], POLICY)
    assert a.dns_only.empty and list(a.dns_only.columns) == DNS_ONLY_COLUMNS


def test_data_in_a_looked_up_name_is_listed(tmp_path) -> None:
    b = FullCaptureBuilder(tmp_path / "run").vendor_scenario()
    b.dns("356938035643809.t.vendor-cloud.example", [], at=20,
          findings=[{"type": "imei", "id": "imei", "where": "dns:query", "encoding": "plain", "offset": 0}])
    a = analyse([b.write()], POLICY)
    row = a.dns_only.set_index("name").loc["356938035643809.t.vendor-cloud.example"]
    assert row["data_types"] == "imei"
