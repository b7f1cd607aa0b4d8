"""Coverage by kind (issue 20): flows and bytes of each kind of traffic, per app, and what
an explicit proxy could not see said as such instead of a 0."""

from __future__ import annotations

import pandas as pd
import pytest
from support.capture_builder import CaptureBuilder
from support.raw_capture import BEACON_HOST, PUSH_HOST, PUSH_IP, FullCaptureBuilder, build_full

from harness.analysis.flow_kinds import ALL_APPS, NOT_CAPTURED, flow_kinds
from harness.analysis.frames import analyse
from harness.analysis.summary import coverage_classes

NO_TLS = {"intercepted": False, "version": None, "failure": None}


def _all(a) -> pd.DataFrame:
    table = a.kind_coverage
    return table[table["app"] == ALL_APPS].set_index("kind")


def test_full_capture_counts_flows_and_bytes_per_kind(tmp_path) -> None:
    a = analyse([build_full(tmp_path / "run", "vendor-1.1")])
    kinds = _all(a)
    assert list(kinds.index) == ["http", "http3", "pinned", "dns", "tcp", "udp", "quic"]
    assert (kinds["status"] == "captured").all()
    assert kinds.loc["tcp", ["flows", "bytes_up", "bytes_down"]].tolist() == [1, 180, 5]
    assert kinds.loc["udp", ["flows", "bytes_up"]].tolist() == [1, 27]
    assert kinds.loc["quic", ["flows", "bytes_up"]].tolist() == [1, 1250]
    assert kinds.loc["http3", ["flows", "bytes_up", "bytes_down"]].tolist() == [1, 90, 10]
    assert kinds.loc["pinned", "flows"] == 1
    assert kinds.loc["dns", "flows"] == 7 and kinds.loc["dns", "destinations"] == 5
    assert kinds["flows"].sum() == len(a.flows)  # each flow in exactly one kind
    per_app = a.kind_coverage.set_index(["app", "kind"])
    assert per_app.loc[("com.vendor.telemetry", "tcp"), "bytes_up"] == 180
    assert ("com.vendor.telemetry", "udp") not in per_app.index  # an app's row only for the kinds it used
    summary = a.summary["coverage_by_kind"]
    assert summary["capture_modes"] == ["wireguard"]
    assert summary["kinds"]["tcp"] == {"label": "TCP (not HTTP)", "status": "captured", "flows": 1,
                                       "bytes_up": 180, "bytes_down": 5, "destinations": 1}


def test_explicit_capture_says_what_it_could_not_see(tmp_path) -> None:
    run = FullCaptureBuilder(tmp_path / "run", mode="explicit").vendor_scenario().write()
    a = analyse([run])
    kinds = _all(a)
    for kind in ("dns", "tcp", "udp", "quic", "http3"):
        assert kinds.loc[kind, "status"] == NOT_CAPTURED
        assert pd.isna(kinds.loc[kind, "flows"]) and pd.isna(kinds.loc[kind, "bytes_up"])  # not a 0
    assert kinds.loc["http", "status"] == "captured" and kinds.loc["http", "flows"] == 7
    said = a.summary["coverage_by_kind"]["kinds"]
    assert said["dns"]["flows"] is None and said["dns"]["status"] == NOT_CAPTURED
    assert said["pinned"]["flows"] == 1


def test_a_capture_without_a_recorded_mode_does_not_claim_either(tmp_path) -> None:
    a = analyse([CaptureBuilder(tmp_path / "run").vendor_scenario().write()])
    kinds = _all(a)
    assert kinds.loc["dns", "status"] == "none recorded (capture mode unknown)"
    assert kinds.loc["dns", "flows"] == 0


@pytest.mark.parametrize(("record", "kind"), [
    ({"kind": "error", "method": "POST", "http_version": "HTTP/3"}, "http3"),  # contained h3 that errored
    ({"kind": "http", "method": "GET", "http_version": "HTTP/2.0"}, "http"),
    ({"kind": "error", "method": "CONNECT", "http_version": "HTTP/1.1"}, "failed"),
    ({"kind": "tls_failed", "flags": "tls_rejected"}, "pinned"),
    ({"kind": "dns"}, "dns"),
    ({"kind": "quic"}, "quic"),
    ({"kind": "udp"}, "udp"),
    ({"kind": "tcp"}, "tcp"),
])
def test_each_flow_is_one_kind(record, kind) -> None:
    row = {"kind": None, "method": None, "http_version": None, "flags": "", "scheme": None,
           "tls_intercepted": False, **record}
    flows = pd.DataFrame([row])
    flows["coverage"] = coverage_classes(flows)
    assert list(flow_kinds(flows)) == [kind]


def test_raw_tls_and_quic_are_not_counted_readable(tmp_path) -> None:
    b = FullCaptureBuilder(tmp_path / "run")
    geo = {"country": "CN", "org": "X", "org_country": "CN"}
    b.raw("tcp", "mqtt.vendor-cloud.example", PUSH_IP, 8883, at=1, geo=geo, up=300, down=40, protocol="tls",
          sni="mqtt.vendor-cloud.example", flags=["cleartext"])  # the flow log flags any raw payload cleartext
    b.raw("quic", "h3.example", PUSH_IP, 443, at=2, geo=geo, up=1200, down=0, protocol="quic", sni="h3.example",
          flags=["cleartext"])
    b.raw("tcp", PUSH_HOST, PUSH_IP, 5222, at=3, geo=geo, up=100, down=5, protocol="xmpp", flags=["cleartext"])
    b.raw("udp", BEACON_HOST, PUSH_IP, 9999, at=4, geo=geo, up=30, down=0, flags=["cleartext"])
    b.dns(PUSH_HOST, [PUSH_IP], at=0.5)
    a = analyse([b.write()])
    coverage = dict(zip(a.flows["destination"] + "/" + a.flows["kind"], a.flows["coverage"], strict=True))
    assert coverage["mqtt.vendor-cloud.example/tcp"] == "not_http"
    assert coverage["h3.example/quic"] == "not_http"
    assert coverage[f"{PUSH_HOST}/tcp"] == "cleartext" and coverage[f"{BEACON_HOST}/udp"] == "cleartext"
    assert coverage[f"{PUSH_HOST}/dns"] == "cleartext"  # a lookup is read whole
    assert a.summary["decryption"]["not_http"] == 2
