"""Trackers and SDKs: the curated table, its lookups, and the SDK named behind flows and
reads; flows get the library that opened them from the network events' stacks."""

from __future__ import annotations

import pandas as pd
import pytest
from support.capture_builder import CaptureBuilder, _geo

from harness.analysis.frames import analyse
from harness.analysis.trackers import TrackerIndex, parse_tracker_table, shipped_trackers
from harness.errors import ConfigError


def test_the_shipped_table_cites_a_source_for_every_row():
    trackers = shipped_trackers()
    assert len(trackers) >= 30
    for t in trackers:
        assert t.source and (t.code or t.network), t
        assert t.source.startswith("https://reports.exodus-privacy.eu.org/") or "virtual" in t.source, t
    assert len({t.name for t in trackers}) == len(trackers)


@pytest.mark.parametrize(("name", "sdk"), [
    ("com.facebook.ads.AdView", "Facebook Ads"),  # the longest prefix wins
    ("com.facebook.login.LoginManager", "Facebook SDK"),
    ("com.appsflyer.internal.AFb1", "AppsFlyer"),
    ("com.google.android.gms.measurement.internal.zzkp", "Google Firebase Analytics"),
    ("com.vendor.analytics.Tracker", "Vendor Analytics SDK (virtual)"),
    ("com.appsflyerx.Other", None), ("com.example.app.Main", None), (None, None), ("", None),
])
def test_a_class_is_named_by_its_package_prefix(name, sdk):
    found = TrackerIndex().of_class(name)
    assert (found.name if found else None) == sdk


@pytest.mark.parametrize(("host", "sdk"), [
    ("graph.facebook.com", "Facebook Analytics"), ("www.facebook.com", "Facebook SDK"),
    ("t.appsflyer.com", "AppsFlyer"), ("APPSFLYER.COM.", "AppsFlyer"), ("notappsflyer.com", None),
    ("appsflyer.com.evil.example", None), ("1.2.3.4", None), (None, None),
])
def test_a_host_is_named_by_its_domain(host, sdk):
    found = TrackerIndex().of_host(host)
    assert (found.name if found else None) == sdk


@pytest.mark.parametrize(("text", "fragment"), [
    ("name,category\nX,y\n", "first row"),
    ("name,category,code_signature,network_signature,source\nX,a,com.x.,x.com\n", "row 2"),
    ("name,category,code_signature,network_signature,source\nX,a,,,https://x\n", "signature"),
    ("name,category,code_signature,network_signature,source\nX,a,com.x.,,\n", "source"),
])
def test_a_bad_table_is_a_clear_error(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_tracker_table(text, "t.csv")


def test_flows_get_the_library_that_opened_them_and_its_sdk(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    us = _geo("US", "AppsFlyer Inc", "US")
    okhttp = ["okhttp3.internal.connection.RealCall.execute(RealCall.kt:154)",
              "okhttp3.OkHttpClient.newCall(OkHttpClient.kt:221)",
              "com.appsflyer.internal.AFd1.send(AFd1.java:40)",
              "com.shop.app.MainActivity.onCreate(MainActivity.java:12)"]
    b.request("com.shop.app", "launches.appsflyersdk.example", at=10, stack=okhttp)
    b.flow("launches.appsflyersdk.example", at=10.1, server_ip="198.51.100.90", geo=us)
    b.connect("com.shop.app", "t.appsflyer.com", "198.51.100.91", 443, at=20, proxied=True,
              stack=["java.net.Socket.connect(Socket.java:1)", "com.shop.app.Net.open(Net.java:3)"])
    b.flow("t.appsflyer.com", at=20.05, server_ip="198.51.100.91", geo=us)
    b.flow("cdn.other.example", at=30, server_ip="198.51.100.92", geo=us)  # no event: no library
    a = analyse([b.write()])
    f = a.flows.set_index("host")
    assert f.loc["launches.appsflyersdk.example", "library"] == "com.appsflyer.internal.AFd1"  # OkHttp passed over
    assert (f.loc["launches.appsflyersdk.example", "sdk"], f.loc["launches.appsflyersdk.example", "sdk_match"]) == (
        "AppsFlyer", "code")
    assert f.loc["t.appsflyer.com", "library"] == "com.shop.app.Net"
    assert (f.loc["t.appsflyer.com", "sdk"], f.loc["t.appsflyer.com", "sdk_match"]) == ("AppsFlyer", "network")
    assert pd.isna(f.loc["cdn.other.example", "library"]) and f.loc["cdn.other.example", "sdk"] == ""
    (sdk,) = a.sdks.to_dict("records")
    assert sdk["sdk"] == "AppsFlyer" and sdk["flows"] == 2 and sdk["matched_by"] == "code, network"
    assert sdk["apps"] == "com.shop.app" and sdk["source"].startswith("https://reports.exodus-privacy.eu.org/")


def test_reads_and_data_flows_name_their_sdk(tmp_path):
    from support.capture_builder import build_capture

    a = analyse([build_capture(tmp_path / "run")])
    imei = a.reads[a.reads["data_type"] == "imei"].iloc[0]
    assert (imei["library"], imei["sdk"], imei["sdk_match"]) == (
        "com.vendor.analytics.Tracker", "Vendor Analytics SDK (virtual)", "code")
    row = a.data_flows[a.data_flows["data_type"] == "imei"].iloc[0]
    assert row["sdk"] == "Vendor Analytics SDK (virtual)"
    assert "Vendor Analytics SDK (virtual)" in set(a.sdks["sdk"])
