"""Non-HTTP destinations (issue 20): raw TCP, UDP and QUIC flows in the destination table
with their bytes, protocol guess, SNI and DNS names; their payload findings reported as
HTTP's are; DNS lookups are not destinations (the resolver is not where data went)."""

from __future__ import annotations

from support.raw_capture import BEACON_HOST, CLOCK_HOST, H3_HOST, PUSH_HOST, build_full

from harness.analysis.frames import analyse
from harness.config import Policy

POLICY = Policy(allowed_countries=["IN"], watchlist_countries=["CN"])


def test_raw_destinations_have_bytes_protocol_sni_and_dns_names(tmp_path) -> None:
    a = analyse([build_full(tmp_path / "run")], POLICY)
    d = a.destinations.set_index("destination")
    push = d.loc[PUSH_HOST]
    assert (push["bytes_up"], push["bytes_down"], push["flows"], push["requests"]) == (180, 5, 1, 0)
    assert push["protocols"] == "tcp/xmpp" and push["data_types"] == "imei"
    assert push["dns_names"] == "push.vendor-cloud.example,telemetry.vendor-cloud.example"
    assert "watchlist_country" in push["flags"] and push["severity"] == "high"
    assert d.loc[BEACON_HOST, "protocols"] == "udp" and d.loc[BEACON_HOST, "bytes_up"] == 27
    h3 = d.loc[H3_HOST]
    assert h3["protocols"] == "http3, quic" and h3["sni"] == H3_HOST and h3["bytes_up"] == 1340
    assert d.loc["api.weather.vendor.example.in", "protocols"] == "http"


def test_dns_lookups_are_not_destinations(tmp_path) -> None:
    a = analyse([build_full(tmp_path / "run")], POLICY)
    d = a.destinations
    assert CLOCK_HOST not in set(d["destination"])  # looked up only: the DNS-only table says it
    assert "10.0.0.53" not in " ".join(d["ips"])  # the resolver is not a destination
    push = d.set_index("destination").loc[PUSH_HOST]
    assert push["flows"] == 1 and push["bytes_up"] == 180  # its lookup is not counted in


def test_findings_in_raw_payloads_are_reported_as_for_http(tmp_path) -> None:
    a = analyse([build_full(tmp_path / "run")], POLICY)
    flows = a.data_flows
    sent = flows[flows["host"] == PUSH_HOST]
    assert list(sent["data_type"]) == ["imei"] and "base64" in sent.iloc[0]["encodings"]
    lines = a.verdict[a.verdict["destination"] == PUSH_HOST]
    [line] = lines["finding"]
    assert line.startswith(f"sent the IMEI (base64) to {PUSH_HOST} in cleartext (no TLS)")
    assert "HTTP" not in line  # a raw TCP push channel, not HTTP
    assert lines.iloc[0]["severity"] == "high"
    beacon = a.verdict[a.verdict["destination"] == BEACON_HOST]
    assert beacon["finding"].iloc[0].startswith(f"sent the IMEI (plain) to {BEACON_HOST}")
