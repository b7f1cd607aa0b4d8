"""Non-HTTP destinations (issue 20): raw TCP, UDP and QUIC flows in the destination table
with their bytes, protocol guess, SNI and DNS names; their payload findings reported as
HTTP's are; DNS lookups are not destinations (the resolver is not where data went)."""

from __future__ import annotations

from support.raw_capture import (
    BEACON_HOST,
    CLOCK_HOST,
    CN,
    H3_HOST,
    PUSH_HOST,
    FullCaptureBuilder,
    build_full,
)

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


def test_raw_flows_recorded_by_an_address_are_named(tmp_path) -> None:
    """Contained mode records a raw flow's host as the lab responder that answered it:
    the analysis names it by the capture's DNS answer, else the zone, else the world address."""
    b = FullCaptureBuilder(tmp_path / "run").vendor_scenario()
    b.extra_zone = {"xmpp.vendor-cloud.example": {"world_ip": "203.0.113.44", "ports": {"5222": "127.0.0.24:41071"}}}
    by_zone = b.raw("tcp", "127.0.0.24", "203.0.113.44", 5222, at=50, geo=CN, up=44, down=5)
    b.dns("mqtt.vendor-cloud.example", ["203.0.113.45"], at=51)
    by_dns = b.raw("tcp", "203.0.113.45", "203.0.113.45", 1883, at=52, geo=CN, up=30, down=2)
    unknown = b.raw("udp", "127.0.0.40", "203.0.113.46", 9999, at=53, geo=CN, up=10, down=0)
    by_sni = b.raw("tcp", None, "203.0.113.45", 8883, at=54, geo=CN, up=10, down=0, protocol="tls",
                   sni="broker.vendor-cloud.example")
    by_sni.update(host=None, sni="broker.vendor-cloud.example")  # the recorded SNI names it
    a = analyse([b.write()], POLICY)
    flows = a.flows.set_index("flow_id")
    assert flows.loc[by_zone["id"], "destination"] == "xmpp.vendor-cloud.example"
    assert "recorded host 127.0.0.24, a lab responder" in flows.loc[by_zone["id"], "notes"]
    assert flows.loc[by_dns["id"], "destination"] == "mqtt.vendor-cloud.example"
    assert flows.loc[unknown["id"], "destination"] == "203.0.113.46"  # never the responder's loopback address
    assert flows.loc[by_sni["id"], "destination"] == "broker.vendor-cloud.example"
    d = a.destinations.set_index("destination")
    assert d.loc["xmpp.vendor-cloud.example", "bytes_up"] == 44 and "127.0.0.24" not in d.index
    assert "mqtt.vendor-cloud.example" not in set(a.dns_only["name"])  # its lookup led to the connection
