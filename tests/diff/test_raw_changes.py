"""`lab diff` with full-device captures (issue 20): a new non-HTTP destination is judged like
any other (a new foreign TCP/UDP/QUIC destination and new data over raw TCP are
regressions, with their flows as evidence), a DNS lookup is no destination, and a new
name seen only through DNS is a regression when it resolves to a watch-list country,
else a note."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from support.capture_builder import _geo
from support.raw_capture import (
    CLOCK_HOST,
    CN,
    H3_HOST,
    IMEI_B64,
    PARTNER_HOST,
    PUSH_HOST,
    PUSH_IP,
    FullCaptureBuilder,
    build_full,
)

from harness.config.lab import Policy, RegressionPolicy
from harness.diff.compare import diff_captures
from harness.diff.render import diff_markdown, junit_xml
from harness.diff.requirements import change_triggers

POLICY = Policy(allowed_countries=["IN"], watchlist_countries=["CN"])
IMEI_TCP = [{"type": "imei", "id": "imei", "where": "tcp", "encoding": "base64", "offset": 27}]


def _builder(tmp_path, name: str, variant: str = "vendor-1.0") -> FullCaptureBuilder:
    return FullCaptureBuilder(tmp_path / name, variant=variant, run_id=f"run-{name}").vendor_scenario()


def _by_kind(result, kind: str) -> dict[str, object]:
    return {c.subject: c for c in result.changes if c.kind == kind}


def test_a_new_foreign_quic_destination_is_a_regression_with_its_flows(tmp_path) -> None:
    base = _builder(tmp_path, "base").write()
    b = _builder(tmp_path, "new")
    flow = b.raw("quic", H3_HOST, PUSH_IP, 443, at=53, geo=CN, up=1250, down=0, protocol="quic", sni=H3_HOST,
                 flags=["foreign", "watchlist_country"], app="com.vendor.weather")
    new = b.write()
    result = diff_captures([base], [new], POLICY)
    change = _by_kind(result, "new_destination")[H3_HOST]
    assert change.rule == "new_foreign_raw_destination" and change.regression
    assert "over quic:443" in change.detail and change.data["evidence"] == [flow["id"]]
    assert f"(evidence: flow {flow['id']})" in junit_xml(result)
    assert f"(evidence: flow {flow['id']})" in diff_markdown(result)
    lenient = Policy(allowed_countries=["IN"], watchlist_countries=["CN"],
                     regression=RegressionPolicy(new_foreign_raw_destination=False, new_watchlist_country=False))
    assert not _by_kind(diff_captures([base], [new], lenient), "new_destination")[H3_HOST].regression


def test_new_data_over_raw_tcp_to_a_known_destination_is_a_regression(tmp_path) -> None:
    b = _builder(tmp_path, "base")
    b.raw("tcp", PUSH_HOST, PUSH_IP, 5222, at=50, geo=CN, up=100, down=5, protocol="xmpp",
          flags=["foreign", "watchlist_country", "cleartext"])
    base = b.write()
    b = _builder(tmp_path, "new")
    flow = b.raw("tcp", PUSH_HOST, PUSH_IP, 5222, at=50, geo=CN, up=140, down=5, protocol="xmpp",
                 flags=["foreign", "watchlist_country", "cleartext", "sensitive_data"], findings=IMEI_TCP)
    result = diff_captures([base], [b.write()], POLICY)
    rules = {c.rule for c in result.regressions}
    assert {"new_cleartext_with_data", "new_data_type_to_foreign"} <= rules
    clear = next(c for c in result.regressions if c.rule == "new_cleartext_with_data")
    assert "over tcp/xmpp:5222" in clear.detail and clear.data["evidence"] == [flow["id"]]
    assert IMEI_B64 not in junit_xml(result)


def test_a_new_lookup_of_a_watch_list_host_is_a_regression_others_a_note(tmp_path) -> None:
    base = build_full(tmp_path / "base", "vendor-1.0")
    new = build_full(tmp_path / "new", "vendor-1.1")
    result = diff_captures([base], [new], POLICY)
    lookups = _by_kind(result, "new_dns_lookup")
    assert set(lookups) == {PARTNER_HOST}  # the clock lookup is in both
    partner = lookups[PARTNER_HOST]
    assert partner.rule == "new_watchlist_lookup" and partner.components == ("com.vendor.weather",)
    assert "39.156.66.10 (CN, Partner Metrics Co), 3 time(s)" in partner.detail
    assert len(partner.data["evidence"]) == 3
    assert PARTNER_HOST not in _by_kind(result, "new_destination")  # looked up, never connected to

    b = FullCaptureBuilder(tmp_path / "new2", run_id="run-new2").vendor_scenario().full_scenario()
    b.dns("ntp.example.in", ["49.44.2.9"], at=90)
    result = diff_captures([base], [b.write()], POLICY)
    note = _by_kind(result, "new_dns_lookup")["ntp.example.in"]
    assert note.rule is None and "new DNS lookup ntp.example.in -> 49.44.2.9" in note.detail
    off = Policy(allowed_countries=["IN"], watchlist_countries=["CN"],
                 regression=RegressionPolicy(new_watchlist_lookup=False))
    assert not _by_kind(diff_captures([base], [new], off), "new_dns_lookup")[PARTNER_HOST].regression


def test_a_lookup_is_not_a_destination_of_the_resolvers_country(tmp_path) -> None:
    base = _builder(tmp_path, "base").write()
    b = _builder(tmp_path, "new")
    lookup = b.dns(CLOCK_HOST, ["49.44.2.2"], at=55)
    lookup.update(_geo("US", "Example Public DNS", "US"), flags=["foreign"], server_ip="8.8.8.8")  # a foreign resolver
    result = diff_captures([base], [b.write()], POLICY)
    assert not _by_kind(result, "new_destination") and not _by_kind(result, "new_country")
    assert _by_kind(result, "new_dns_lookup")[CLOCK_HOST].rule is None
    assert not result.regressions


def test_a_watch_list_lookup_fails_its_component_and_maps_like_a_watch_list_country(tmp_path) -> None:
    result = diff_captures([build_full(tmp_path / "base")], [build_full(tmp_path / "new", "vendor-1.1")], POLICY)
    partner = _by_kind(result, "new_dns_lookup")[PARTNER_HOST]
    assert change_triggers(partner.kind, partner.rule, partner.data) == ["watchlist_country"]
    assert change_triggers("new_dns_lookup", None, {"watchlist": False}) == []
    root = ET.fromstring(junit_xml(result))
    failures = [f.text for f in root.iter("failure")]
    assert any("[new_watchlist_lookup]" in (t or "") for t in failures)


def test_a_baseline_captured_in_the_other_mode_is_said(tmp_path) -> None:
    base = FullCaptureBuilder(tmp_path / "base", mode="explicit", run_id="run-base").vendor_scenario().write()
    new = build_full(tmp_path / "new")
    result = diff_captures([base], [new], POLICY)
    [change] = [c for c in result.changes if c.kind == "capture_mode_change"]
    assert change.detail.startswith("capture mode explicit -> wireguard: DNS, raw TCP/UDP and QUIC are recorded "
                                    "only in the new captures")
    assert not change.regression and change.data == {"baseline": ["explicit"], "new": ["wireguard"]}
    same = diff_captures([build_full(tmp_path / "again")], [new], POLICY)
    assert not [c for c in same.changes if c.kind == "capture_mode_change"]
    unrecorded = FullCaptureBuilder(tmp_path / "old", run_id="run-old").vendor_scenario()
    unrecorded.run_json = super(FullCaptureBuilder, unrecorded).run_json  # a capture from before modes were recorded
    old = diff_captures([unrecorded.write()], [new], POLICY)
    assert not [c for c in old.changes if c.kind == "capture_mode_change"]
