"""The verdict: one plain line per finding, most severe first, each with its evidence
(flow ids, hook events) and the requirement ids it maps to."""

from __future__ import annotations

import re

import pytest
from support.capture_builder import FW_TELEMETRY_HOST, CaptureBuilder, build_capture
from support.raw_capture import FullCaptureBuilder

from harness.analysis.frames import analyse
from harness.analysis.verdict import VERDICT_COLUMNS
from harness.config.lab import Flag, Policy, Severity

SEVERITIES = ["info", "low", "medium", "high", "critical"]


@pytest.fixture
def firmware(tmp_path):
    return analyse([CaptureBuilder(tmp_path / "run").firmware_scenario().write()])


def line(a, pattern):
    hits = a.verdict[a.verdict["finding"].str.contains(pattern, regex=True)]
    assert len(hits) == 1, (pattern, list(a.verdict["finding"]))
    return hits.iloc[0]


def test_a_data_line_says_what_went_where_who_runs_it_how_often_and_who_read_it(firmware):
    row = line(firmware, "the IMEI")
    assert re.fullmatch(
        rf"sent the IMEI \(sha256\) to {re.escape(FW_TELEMETRY_HOST)} — run by Alibaba \(home country CN\), "
        r"server located US — 13 times \(every 2[67]\d s \+/- [\d.]+ s\); read by "
        r"com\.vendor\.telemetry\.core\.Reporter \(Vendor Telemetry \(virtual firmware\)\) in com\.vendor\.telemetry",
        row["finding"]), row["finding"]
    assert row["severity"] == "high" and row["kind"] == "data"
    assert (row["app"], row["library"], row["data_type"]) == (
        "com.vendor.telemetry", "com.vendor.telemetry.core.Reporter", "imei")


def test_the_sim_activation_names_imsi_and_iccid(firmware):
    for name in ("the IMSI", "the ICCID"):
        row = line(firmware, name)
        assert "to activation.vendor-cloud.example" in row["finding"] and "once" in row["finding"]
        assert "read by com.vendor.telemetry.activation.SimActivation" in row["finding"]


def test_each_line_carries_its_evidence(firmware):
    row = line(firmware, "the IMEI")
    flows = row["evidence_flows"].split()
    assert len(flows) == row["flows"] == 13
    imei_flows = firmware.findings.loc[firmware.findings["data_type"] == "imei", "flow_id"]
    assert set(flows) == set(imei_flows)
    hooks = row["evidence_hooks"].split()
    assert len(hooks) == row["hook_events"] == 13
    reads = firmware.reads.set_index("hook_id")
    assert set(reads.loc[hooks, "data_type"]) == {"imei"}
    unread = line(firmware, "the location")
    assert "the read was not seen (not hooked)" in unread["finding"] and unread["evidence_hooks"] == ""


def test_most_severe_first_then_watch_list_then_abroad(tmp_path):
    a = analyse([build_capture(tmp_path / "run", "vendor-1.1")])
    ranks = [SEVERITIES.index(s) for s in a.verdict["severity"]]
    assert ranks == sorted(ranks, reverse=True)
    assert list(a.verdict["n"]) == list(range(1, len(a.verdict) + 1))
    first = a.verdict.iloc[0]["finding"]
    assert first.startswith("sent the Android ID (plain) to telemetry.vendor-cloud.example") and (
        "server located CN (a watch-list country)" in first)
    assert a.verdict.iloc[-1]["finding"] == "could not read com.vendor.bank's traffic: none of 1 read (1 pinned)"
    bypass = line(a, "around the proxy")
    assert bypass["finding"].startswith("com.vendor.telemetry connected to direct.vendor-cloud.example around")
    assert bypass["evidence_hooks"] and bypass["evidence_flows"] == ""


def test_the_lab_policy_decides_the_order(tmp_path):
    policy = Policy(severity={Flag.TLS_REJECTED: Severity.CRITICAL})
    a = analyse([build_capture(tmp_path / "run")], policy)
    assert a.verdict.iloc[0]["severity"] == "critical" and "pinned" in a.verdict.iloc[0]["finding"]


def test_lines_map_to_requirements(firmware):
    ids = line(firmware, "the IMEI")["requirements"].split(", ")
    assert {"MASVS-PRIVACY-1", "MASVS-PRIVACY-2", "MASWE-0108", "MASWE-0110", "MASTG-TEST-0206",
            "ETSI EN 303 645 6-4", "ETSI EN 303 645 6-5", "DPDP Act 2023 s.16"} <= set(ids)
    once = line(firmware, "the IMSI")["requirements"].split(", ")
    assert "ETSI EN 303 645 6-4" not in once  # not on a timer: no telemetry requirement
    req = firmware.requirements.set_index("requirement")
    assert req.loc["DPDP Act 2023 s.16", "status"] == "finding"
    assert req.loc["MASVS-NETWORK-1", "status"] == "no finding"


def test_cleartext_and_watch_list_destinations_without_data_are_lines_too(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    cn = {"country": "CN", "org": "Example Watch-list Cloud", "org_country": "CN"}
    b.flow("push.cn.example", at=5, server_ip="203.0.113.40", geo=cn, flags=["foreign", "watchlist_country"])
    b.flow("cdn.example.in", at=6, server_ip="192.0.2.9", geo={"country": "IN", "org": "Y", "org_country": "IN"},
           port=80, flags=["cleartext"])
    a = analyse([b.write()])
    watch = line(a, "push.cn.example")
    assert watch["finding"].startswith("contacted push.cn.example — run by Example Watch-list Cloud")
    assert watch["finding"].endswith("no sensitive data found in what could be read")
    clear = line(a, "cdn.example.in")
    assert clear["finding"].startswith("talked to cdn.example.in without TLS (cleartext HTTP)")
    assert "MASVS-NETWORK-1" in clear["requirements"] and "MASWE-0050" in clear["requirements"]


def test_a_raw_cleartext_destination_without_data_is_said_in_cleartext_not_http(tmp_path):
    b = FullCaptureBuilder(tmp_path / "run")
    b.raw("tcp", "mqtt.example.in", "192.0.2.10", 1883, at=5, geo={"country": "IN", "org": "Y", "org_country": "IN"},
          up=60, down=4, protocol="mqtt", flags=["cleartext"])
    b.raw("udp", "beacon.example.in", "192.0.2.11", 9999, at=6, geo={"country": "IN", "org": "Y", "org_country": "IN"},
          up=20, down=0, flags=["cleartext"])
    a = analyse([b.write()])
    for host in ("mqtt.example.in", "beacon.example.in"):
        clear = line(a, re.escape(host))
        assert clear["finding"].startswith(f"talked to {host} in cleartext (no TLS) — "), clear["finding"]
        assert "HTTP" not in clear["finding"] and clear["kind"] == "cleartext"


def test_nothing_found_is_an_empty_verdict(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.flow("api.example.in", at=5, server_ip="192.0.2.1", geo={"country": "IN", "org": "Y", "org_country": "IN"},
           app="com.x")
    a = analyse([b.write()])
    assert a.verdict.empty and list(a.verdict.columns) == VERDICT_COLUMNS
    assert set(a.requirements["status"]) == {"no finding"}


def test_one_line_per_data_type_and_destination_naming_every_sender(tmp_path):
    b = CaptureBuilder(tmp_path / "run").firmware_scenario()
    geo = {"country": "US", "org": "Alibaba", "org_country": "CN"}
    for at in (150.0, 160.0):  # the IMEI to the same host from another app, its read not hooked
        b.flow(FW_TELEMETRY_HOST, at=at, server_ip="47.88.1.20", geo=geo, app="com.vendor.update",
               flags=["foreign", "sensitive_data"],
               findings=[{"type": "imei", "id": "imei", "where": "body:$.d", "encoding": "plain", "offset": 3}])
    a = analyse([b.write()])
    row = line(a, "the IMEI")
    assert "(plain+sha256)" in row["finding"] and "— 15 times" in row["finding"]
    assert row["finding"].endswith(
        "read by com.vendor.telemetry.core.Reporter (Vendor Telemetry (virtual firmware)) in com.vendor.telemetry "
        "(13 times); sent by com.vendor.update (Vendor Telemetry (virtual firmware)); the read was not seen "
        "(not hooked); read on the device by com.vendor.telemetry (com.vendor.telemetry.core.Reporter) (2 times)")
    assert (row["app"], row["flows"]) == ("com.vendor.telemetry", 15)
