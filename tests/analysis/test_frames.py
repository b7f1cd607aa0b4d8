"""Analysis of capture folders: frames, attribution, data flows, destinations, summary."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from support.capture_builder import (
    ANALYTICS_HOST,
    BYPASS_HOST,
    IMEI,
    PROXY_PORT,
    TELEMETRY_HOST,
    CaptureBuilder,
    _geo,
    build_capture,
)

from harness.analysis.frames import analyse
from harness.config.lab import Flag, Policy, Severity
from harness.errors import CaptureError


@pytest.fixture
def demo(tmp_path):
    return build_capture(tmp_path / "run")


def test_imei_read_is_linked_to_the_foreign_flow_that_carried_its_sha256(demo):
    a = analyse([demo])
    row = a.data_flows[a.data_flows["data_type"] == "imei"].iloc[0]
    assert row["app"] == "com.vendor.weather"
    assert row["library"] == "com.vendor.analytics.Tracker"
    assert row["api"] == "android.telephony.TelephonyManager.getImei"
    assert row["host"] == ANALYTICS_HOST
    assert row["server_ip"] == "198.51.100.20"
    assert (row["country"], row["org"], row["org_country"]) == ("US", "Example Analytics Inc", "US")
    assert row["encodings"] == "sha256"
    assert "foreign" in row["flags"].split(",")
    assert row["transmissions"] == 2
    assert row["link"] == "app+value"
    assert row["evidence"].split() == ["run-vendor-1.0-f0005", "run-vendor-1.0-f0006"]


def test_value_in_traffic_without_a_read_is_a_row_of_its_own(demo):
    a = analyse([demo])
    row = a.data_flows[a.data_flows["data_type"] == "android_id"].iloc[0]
    assert row["library"] == "unknown (not hooked)"
    assert row["app"] == "com.vendor.telemetry"
    assert row["host"] == TELEMETRY_HOST
    assert row["transmissions"] == 3


def test_attribution_methods_in_order(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    cn = _geo("CN", "Example Watch-list Cloud", "CN")
    b.connect("com.vendor.telemetry", TELEMETRY_HOST, "203.0.113.10", 443, at=1.0)
    b.flow(TELEMETRY_HOST, at=1.1, server_ip="203.0.113.10", geo=cn)            # connect, host+port
    b.connect("com.vendor.telemetry", None, "203.0.113.11", 443, at=2.0)
    b.flow("other.example", at=2.1, server_ip="203.0.113.11", geo=cn)          # connect, world IP
    b.flow("boot.example", at=20, server_ip="203.0.113.12", geo=cn)            # reboot window
    b.flow("fg.example", at=40, server_ip="203.0.113.13", geo=cn)              # weather in front
    b.flow("idle.example", at=100, server_ip="203.0.113.14", geo=cn)           # nothing
    b.flow("known.example", at=101, server_ip="203.0.113.15", geo=cn, app="com.example.given",
           attribution={"method": "proxy_uid", "confidence": "high"})
    b.write()
    f = analyse([b.root]).flows.set_index("host")
    got = {h: (f.at[h, "app"], f.at[h, "attribution_method"], f.at[h, "attribution_confidence"])
           for h in f.index}
    assert got[TELEMETRY_HOST] == ("com.vendor.telemetry", "frida_connect_host", "high")
    assert got["other.example"] == ("com.vendor.telemetry", "frida_connect_ip", "high")
    assert got["boot.example"] == ("system (boot)", "step_window", "low")
    assert got["fg.example"] == ("com.vendor.weather", "foreground_app", "low")
    assert got["idle.example"] == ("unattributed", "none", "none")
    assert got["known.example"] == ("com.example.given", "proxy_uid", "high")


def test_connect_far_from_the_flow_is_not_used(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.connect("com.vendor.telemetry", "far.example", "203.0.113.10", 443, at=85)
    b.flow("far.example", at=115, server_ip="203.0.113.10", geo=_geo("CN", "X", "CN"))
    b.write()
    assert analyse([b.root]).flows["app"].tolist() == ["unattributed"]


def test_destinations_sorted_by_policy_severity_with_bypass_row(demo):
    a = analyse([demo])
    d = a.destinations.set_index("destination")
    assert list(a.destinations["severity_rank"]) == sorted(a.destinations["severity_rank"], reverse=True)
    assert d.at[TELEMETRY_HOST, "severity"] == "high"
    assert d.at[TELEMETRY_HOST, "bytes_up"] == 512 + 513 + 514
    assert d.at[ANALYTICS_HOST, "data_types"] == "imei"
    assert d.at["secure.bank.example.in", "tls_rejected"] == 1
    # the bypass: found from journal.json (proxy port) + zone.json (responder -> host, world IP)
    assert d.at[BYPASS_HOST, "flags"] == "bypassed_proxy,foreign,watchlist_country"
    assert d.at[BYPASS_HOST, "bypassed"] == 1
    assert (d.at[BYPASS_HOST, "ips"], d.at[BYPASS_HOST, "country"]) == ("203.0.113.99", "CN")
    assert d.at[BYPASS_HOST, "apps"] == "com.vendor.telemetry"
    # the policy decides severity: make tls_rejected critical and it leads
    policy = Policy(severity={Flag.TLS_REJECTED: Severity.CRITICAL})
    first = analyse([demo], policy).destinations.iloc[0]
    assert (first["destination"], first["severity"]) == ("secure.bank.example.in", "critical")


def test_summary_counts_and_coverage(demo):
    s = analyse([demo]).summary
    assert s["runs"][0]["device"]["security_patch"] == "2026-01-05"
    assert s["runs"][0]["duration_s"] == 120.0
    assert s["counts"]["flows"] == 8
    assert s["decryption"] == {"flows": 8, "intercepted": 7, "cleartext": 0, "tls_rejected": 1,
                               "failed": 0, "not_http": 0, "coverage_percent": 87.5}
    assert {d["destination"] for d in s["foreign_destinations"]} == {
        TELEMETRY_HOST, ANALYTICS_HOST, "cdn1.vendor-static.example", BYPASS_HOST}
    leaving = {d["data_type"]: d["foreign_destinations"] for d in s["data_types_leaving"]}
    assert leaving == {"imei": [ANALYTICS_HOST], "android_id": [TELEMETRY_HOST]}


def test_garbled_torn_and_ill_typed_lines_are_counted_not_fatal(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    b.flows[0]["status"] = "two hundred"        # ill-typed: becomes null, the flow stays
    b.flows[1]["surprise"] = {"nested": [1, 2]}  # unknown field: ignored
    b.raw_flow_lines.append("[1, 2, 3]")         # JSON, but not an object
    path = b.write(garbled=2, torn_tail=True)
    a = analyse([path])
    assert len(a.flows) == 8
    assert pd.isna(a.flows.loc[0, "status"])
    assert a.summary["counts"]["garbled_lines"] == 4
    assert any("4 garbled" in w for w in a.summary["warnings"])


def test_fast_and_line_by_line_reading_agree(tmp_path):
    from harness.analysis.read import FLOW_SCHEMA, ReadStats, read_jsonl_table

    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    clean = b.write()
    fast = read_jsonl_table(clean / "flows.jsonl", FLOW_SCHEMA)
    stats = ReadStats()
    slow = read_jsonl_table(b.write(garbled=1) / "flows.jsonl", FLOW_SCHEMA, stats)
    assert stats.coerced_blocks == 1 and stats.garbled == 1
    assert fast.to_pylist() == slow.to_pylist()


def test_stack_frames_given_as_objects_still_name_the_class(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.read("com.vendor.weather", "android.telephony.TelephonyManager.getImei", "imei", IMEI,
           [{"class": "android.telephony.TelephonyManager", "method": "getImei"},
            {"class": "com.sdk.Ids", "method": "imei", "file": "Ids.java", "line": 3}], at=31)
    b.write()
    reads = analyse([b.root]).reads
    assert reads["library"].tolist() == ["com.sdk.Ids"]
    assert reads["canary_id"].tolist() == ["imei"]


def test_value_read_by_one_app_found_in_an_unattributed_flow_names_it_as_a_lead(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.read("com.vendor.weather", "android.telephony.TelephonyManager.getImei", "imei", IMEI,
           ["com.x.Sdk.run(Sdk.java:1)"], at=31)
    b.flow("exfil.example", at=100, server_ip="203.0.113.40", geo=_geo("CN", "X", "CN"),
           findings=[{"type": "imei", "id": "imei", "where": "url", "encoding": "md5"}])
    b.write()
    row = analyse([b.root]).data_flows.iloc[0]
    # a lead, not a claim: the flow's sender is unknown, the app that read the value is named
    assert (row["app"], row["library"], row["link"]) == ("unattributed", "unknown (not hooked)", "none")
    assert row["possible_readers"] == "com.vendor.weather (com.x.Sdk)"


def test_a_read_by_the_app_merely_in_front_is_not_linked(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.read("com.vendor.weather", "android.telephony.TelephonyManager.getImei", "imei", IMEI,
           ["com.x.Sdk.run(Sdk.java:1)"], at=31)
    b.flow("firmware.example", at=40, server_ip="203.0.113.41", geo=_geo("CN", "X", "CN"),
           findings=[{"type": "imei", "id": "imei", "where": "body", "encoding": "plain"}])
    b.write()
    a = analyse([b.root])
    assert a.flows["attribution_method"].tolist() == ["foreground_app"]
    row = a.data_flows.iloc[0]
    assert (row["app"], row["library"], row["possible_readers"]) == (
        "unattributed", "unknown (not hooked)", "com.vendor.weather (com.x.Sdk)")


def test_several_runs_merge(tmp_path):
    one = build_capture(tmp_path / "a")
    two = CaptureBuilder(tmp_path / "b", run_id="run-b", serial="SERIAL2").vendor_scenario().write()
    a = analyse([one, two])
    assert len(a.flows) == 16
    assert set(a.flows["run_id"]) == {"run-vendor-1.0", "run-b"}
    d = a.destinations.set_index("destination")
    assert d.at[ANALYTICS_HOST, "flows"] == 4
    imei = a.data_flows[a.data_flows["data_type"] == "imei"]
    assert imei["transmissions"].sum() == 4
    assert len(a.summary["runs"]) == 2


def test_same_run_twice_stays_apart(tmp_path):
    one = build_capture(tmp_path / "a")
    a = analyse([one, one])
    assert a.flows["run_id"].nunique() == 2


@pytest.mark.parametrize("manifest,message", [
    ({"format": "lab-harness-capture", "format_version": 99}, "newer"),
    ({"format": "something-else"}, "unknown format"),
    ([1, 2], "not a capture manifest"),
])
def test_foreign_manifests_are_capture_errors(tmp_path, manifest, message):
    (tmp_path / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(CaptureError, match=message):
        analyse([tmp_path])


def test_not_a_capture_folder(tmp_path):
    with pytest.raises(CaptureError, match="not a capture folder"):
        analyse([tmp_path])
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(CaptureError, match="not valid JSON"):
        analyse([tmp_path])


def test_interrupted_run_without_manifest_is_reported_with_a_warning(tmp_path):
    path = build_capture(tmp_path / "run")
    (path / "run.json").unlink()
    a = analyse([path])
    assert len(a.flows) == 8
    assert a.summary["runs"][0]["status"] == "incomplete"
    assert any("no run.json" in w for w in a.summary["warnings"])


def test_empty_capture(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.write()
    a = analyse([b.root])
    assert a.destinations.empty and a.data_flows.empty
    assert a.summary["counts"]["flows"] == 0


def test_connects_to_the_proxy_are_not_bypasses_and_attribute_by_time(demo):
    a = analyse([demo])
    assert a.bypassed["destination"].tolist() == [BYPASS_HOST]
    f = a.flows.set_index("destination")
    assert f.at["api.weather.vendor.example.in", "attribution_method"] == "frida_proxy_connect_time"
    assert f.at[ANALYTICS_HOST, "attribution_method"].tolist() == ["frida_request_host"] * 2


def test_bypass_needs_a_known_proxy_port_or_the_event_saying_so(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.connect("com.a.b", None, "198.51.100.5", 443, at=90)                   # direct, libc
    b.connect("com.a.b", None, "10.0.0.1", 53, at=91)                        # DNS: not traffic
    b.connect("com.a.c", "x.example", "198.51.100.6", 443, at=92, proxied=False)
    b.write()
    a = analyse([b.root])
    assert sorted(a.bypassed["destination"]) == ["198.51.100.5", "x.example"]
    (b.root / "journal.json").unlink()                                       # port unknown
    assert analyse([b.root]).bypassed["destination"].tolist() == ["x.example"]


def test_a_connect_to_the_proxy_explains_one_flow_only(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.connect("com.vendor.telemetry", None, "127.0.0.1", PROXY_PORT, at=100.74, api="libc.connect")
    b.connect("com.vendor.telemetry", "127.0.0.1", "127.0.0.1", PROXY_PORT, at=100.745)  # Java echo
    b.flow("t.example", at=101.07, server_ip="198.51.100.1", geo=_geo("US", "X", "US"))
    b.flow("bank.example", at=101.69, server_ip="198.51.100.2", geo=_geo("US", "Y", "US"))
    b.write()
    f = analyse([b.root]).flows.set_index("host")
    assert (f.at["t.example", "app"], f.at["t.example", "attribution_method"]) == (
        "com.vendor.telemetry", "frida_proxy_connect_time")
    assert f.at["bank.example", "app"] == "unattributed"
    assert analyse([b.root]).bypassed.empty


def test_a_connect_to_the_proxy_is_matched_by_when_the_proxy_accepted_it(tmp_path):
    """On a loaded machine an HTTPS request starts seconds after the app's connect() (CONNECT,
    then both TLS handshakes): the proxy's accept time is what matches, and every request
    of that client connection belongs to the app; another connection does not."""
    b = CaptureBuilder(tmp_path / "run")
    b.connect("com.vendor.telemetry", None, "127.0.0.1", PROXY_PORT, at=100.0, api="libc.connect")
    t0 = b.t0
    for at in (103.5, 104.2):  # two requests on one keep-alive connection, accepted at 100.02
        b.flow("partner.example", at=at, server_ip="198.51.100.1", geo=_geo("CN", "X", "CN"),
               client_port=40001, ts_client_connect=t0 + 100.02)
    b.flow("other.example", at=103.6, server_ip="198.51.100.2", geo=_geo("US", "Y", "US"),
           client_port=40002, ts_client_connect=t0 + 103.55)
    b.write()
    f = analyse([b.root]).flows
    partner = f[f["host"] == "partner.example"]
    assert partner["app"].tolist() == ["com.vendor.telemetry"] * 2
    assert set(partner["attribution_method"]) == {"frida_proxy_connect_time"}
    assert f.loc[f["host"] == "other.example", "app"].tolist() == ["unattributed"]


def test_host_seen_with_one_app_attributes_its_other_flows(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    cn = _geo("CN", "Example Watch-list Cloud", "CN")
    b.flow(TELEMETRY_HOST, at=3, server_ip="203.0.113.10", geo=cn)     # boot, before hooks
    for at in (40, 90):
        b.request("com.vendor.telemetry", TELEMETRY_HOST, at=at - 0.1)
        b.flow(TELEMETRY_HOST, at=at, server_ip="203.0.113.10", geo=cn)
    b.write()
    f = analyse([b.root]).flows.sort_values("ts_start")
    assert f["app"].tolist() == ["com.vendor.telemetry"] * 3
    assert f["attribution_method"].tolist() == ["same_destination", "frida_request_host", "frida_request_host"]
    assert f["attribution_confidence"].tolist()[0] == "medium"


def test_calling_frame_skips_platform_runtime_and_the_hooked_class():
    from harness.analysis.dataflows import calling_frame, frame_class

    stack = ["com.google.android.gms.ads.identifier.AdvertisingIdClient.getAdvertisingIdInfo(Native Method)",
             "java.lang.reflect.Method.invoke(Method.java:1)",
             "com.vendor.analytics.Tracker.read(Tracker.java:71)",
             "com.labvirt.runtime.Payload.collect(Payload.java:25)"]
    api = "com.google.android.gms.ads.identifier.AdvertisingIdClient.getAdvertisingIdInfo"
    assert frame_class(calling_frame(stack, api)) == "com.vendor.analytics.Tracker"
    assert frame_class(calling_frame(stack)) == "com.google.android.gms.ads.identifier.AdvertisingIdClient"
    assert calling_frame(["android.os.Build.getSerial(Native Method)", "com.labvirt.x.Y.z(Y.java:1)"]) is None


def test_one_socket_seen_by_the_java_and_the_libc_hook_is_one_bypass(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.connect("com.vendor.adsdk", None, "198.51.100.5", 443, at=90.791, api="libc.connect")
    b.connect("com.vendor.adsdk", "198.51.100.5", "198.51.100.5", 443, at=90.792)  # Java echo
    b.connect("com.vendor.adsdk", None, "198.51.100.5", 443, at=100.8, api="libc.connect")  # next beacon
    b.write()
    assert analyse([b.root]).bypassed["destination"].tolist() == ["198.51.100.5", "198.51.100.5"]
