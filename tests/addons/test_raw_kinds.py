"""The record kinds of full-device capture with mitmproxy's test helpers: DNS, raw TCP,
UDP and QUIC flows through the audit chain (names from DNS, SNI from a ClientHello not
intercepted, protocol guesses, payload findings bounded, containment of DNS and QUIC)."""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
from pathlib import Path

import pytest
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from mitmproxy import dns, options, tcp, udp
from mitmproxy.addons.dns_resolver import DnsResolver
from mitmproxy.proxy import layer, layers, server_hooks
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow, tutils
from support.servers import IMEI

from addons.audit import Audit
from addons.containment import Containment
from addons.flowlog import FlowLog
from addons.quic import BLOCKED, Quic
from harness.capture.folder import FLOW_FIELDS, iter_jsonl

WORLD_IP = "203.0.113.10"
ZONE_HOST = "push.vendor-cloud.example"


def tls_client_hello(sni: str) -> bytes:
    bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ssl.create_default_context().wrap_bio(bio_in, bio_out, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return bio_out.read()


def quic_initial(sni: str) -> bytes:
    conn = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=["h3"], server_name=sni))
    conn.connect(("203.0.113.10", 443), now=0)
    return conn.datagrams_to_send(now=0)[0][0]


def dns_flow(name: str, answers: list[str] | None, resolver: tuple[str, int] = ("10.0.0.53", 53)) -> dns.DNSFlow:
    request = tutils.tdnsreq()
    request.questions = [dns.Question(name, dns.types.A, dns.classes.IN)]
    client = tflow.tclient_conn()
    client.proxy_mode = ProxyMode.parse("wireguard")
    client.peername = ("10.0.0.1", 40000)
    server = tflow.tserver_conn()
    server.address = resolver
    server.peername = resolver
    flow = tflow.tdnsflow(client_conn=client, server_conn=server, req=request)
    if answers is not None:
        flow.response = request.succeed([dns.ResourceRecord.A(name, ipaddress.IPv4Address(ip)) for ip in answers])
    return flow


def raw_flow(kind: type, address: tuple[str, int], messages: list[tuple[bool, bytes]]):
    client = tflow.tclient_conn()
    client.peername = ("10.0.0.1", 40001)
    client.timestamp_tls_setup = None
    client.sni = None
    server = tflow.tserver_conn()
    server.address = address
    server.peername = address
    server.sni = None
    make = tflow.ttcpflow if kind is tcp.TCPFlow else tflow.tudpflow
    message = tcp.TCPMessage if kind is tcp.TCPFlow else udp.UDPMessage
    return make(client_conn=client, server_conn=server, messages=[message(c, m) for c, m in messages])


@pytest.fixture
def chain(tmp_path: Path, canaries_file: Path):
    audit = Audit.standard()
    with taddons.context(audit) as tctx:
        tctx.configure(audit, audit_jurisdiction="IN", audit_watchlist=["CN"],
                       audit_geo_overrides=[f"{WORLD_IP}/32=CN:Watch Cloud:CN"],
                       audit_canaries=str(canaries_file), audit_capture_dir=str(tmp_path / "cap"),
                       audit_device="virtual:vendor-1.0", audit_max_body_bytes=8192)
        yield audit, tmp_path / "cap"


def records(folder: Path) -> list[dict]:
    return list(iter_jsonl(folder / "flows.jsonl"))


def test_dns_record(chain) -> None:
    audit, folder = chain
    flow = dns_flow(ZONE_HOST, [WORLD_IP])
    audit.dns_request(flow)
    audit.dns_response(flow)
    [record] = records(folder)
    assert set(FLOW_FIELDS) <= set(record)
    assert record["kind"] == "dns" and record["host"] == ZONE_HOST
    assert record["dns"]["name"] == ZONE_HOST and record["dns"]["type"] == "A"
    assert record["dns"]["answers"] == [{"name": ZONE_HOST, "type": "A", "data": WORLD_IP, "ttl": 60}]
    assert record["dns"]["rcode"] == "NOERROR" and record["dns"]["resolver"] == "10.0.0.53:53"
    assert (record["server_ip"], record["server_port"], record["device"]) == ("10.0.0.53", 53, "virtual:vendor-1.0")


def test_raw_tcp_gets_its_name_from_dns_and_its_imei_found(chain) -> None:
    audit, folder = chain
    lookup = dns_flow(ZONE_HOST, [WORLD_IP])
    audit.dns_request(lookup)
    audit.dns_response(lookup)
    encoded = base64.b64encode(f'{{"imei":"{IMEI}"}}'.encode())
    flow = raw_flow(tcp.TCPFlow, (WORLD_IP, 5222), [])
    audit.tcp_start(flow)
    sent = [(True, b"<stream:stream to='vendor'>" + encoded[:10]), (True, encoded[10:] + b"</x>"), (False, b"<ok/>")]
    for from_client, content in sent:
        flow.messages.append(tcp.TCPMessage(from_client, content))
        audit.tcp_message(flow)
    audit.tcp_end(flow)
    record = records(folder)[-1]
    assert record["kind"] == "tcp" and record["protocol"] == "xmpp" and record["transport"] == "tcp"
    assert record["host"] == ZONE_HOST and record["dns_names"] == [ZONE_HOST]
    assert (record["server_ip"], record["server_port"], record["country"]) == (WORLD_IP, 5222, "CN")
    assert record["request_bytes"] == len(sent[0][1]) + len(sent[1][1]) and record["response_bytes"] == 5
    found = [(f["id"], f["where"], f["encoding"]) for f in record["findings"]]
    assert ("imei", "tcp", "base64") in found  # split over two messages, found all the same
    assert "watchlist_country" in record["flags"] and "sensitive_data" in record["flags"]


def test_tls_not_intercepted_is_named_by_its_sni(chain) -> None:
    audit, folder = chain
    flow = raw_flow(tcp.TCPFlow, (WORLD_IP, 8883), [(True, tls_client_hello("mqtt.vendor-cloud.example"))])
    audit.tcp_end(flow)
    record = records(folder)[-1]
    assert record["protocol"] == "tls" and record["payload_sni"] == "mqtt.vendor-cloud.example"
    assert record["host"] == "mqtt.vendor-cloud.example"


def test_udp_beacon_and_quic(chain) -> None:
    audit, folder = chain
    beacon = raw_flow(udp.UDPFlow, (WORLD_IP, 9999), [(True, f"beacon imei={IMEI}".encode())])
    audit.udp_message(beacon)
    audit.udp_end(beacon)
    quic = raw_flow(udp.UDPFlow, (WORLD_IP, 443), [(True, quic_initial("h3.vendor-cloud.example"))])
    audit.udp_end(quic)
    first, second = records(folder)[-2:]
    assert first["kind"] == "udp" and first["protocol"] is None and first["transport"] == "udp"
    assert ("imei", "udp", "plain") in [(f["id"], f["where"], f["encoding"]) for f in first["findings"]]
    assert second["kind"] == "quic" and second["sni"] == "h3.vendor-cloud.example"
    assert second["host"] == "h3.vendor-cloud.example" and second["protocol"] == "quic"


def test_payload_scan_is_bounded_with_a_note(chain) -> None:
    audit, folder = chain
    flow = raw_flow(udp.UDPFlow, (WORLD_IP, 9999), [])
    for content in (b"x" * 5000, b"y" * 5000, f"imei={IMEI}".encode()):
        flow.messages.append(udp.UDPMessage(True, content))
        audit.udp_message(flow)
    audit.udp_end(flow)
    record = records(folder)[-1]
    assert record["findings"] == []  # past the bound: not scanned, and said
    assert any("scanned only in its first" in note for note in record["notes"])


def test_imei_in_a_dns_name_is_found(chain) -> None:
    audit, folder = chain
    flow = dns_flow(f"{IMEI}.t.vendor-cloud.example", [])
    audit.dns_request(flow)
    audit.dns_response(flow)
    record = records(folder)[-1]
    assert ("imei", "dns:query") in [(f["id"], f["where"]) for f in record["findings"]]


ZONE = {"version": 1, "hosts": {ZONE_HOST: {"world_ip": WORLD_IP, "ports": {"5222": "127.0.0.21:15222"}}}}


@pytest.fixture
def contained(tmp_path: Path):
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps(ZONE))
    addon = Containment()
    resolver = DnsResolver()
    with taddons.context(resolver, addon) as tctx:
        tctx.configure(addon, audit_zone=str(zone))
        yield addon, tctx


@pytest.mark.parametrize(("name", "resolver", "rcode", "answers"), [
    (ZONE_HOST, ("10.0.0.53", 53), dns.response_codes.NOERROR, [WORLD_IP]),
    (ZONE_HOST, ("8.8.8.8", 53), dns.response_codes.NOERROR, [WORLD_IP]),
    ("exfil.example", ("10.0.0.53", 53), dns.response_codes.NXDOMAIN, []),
])
def test_contained_dns_is_answered_from_the_zone(contained, name, resolver, rcode, answers) -> None:
    addon, tctx = contained
    flow = dns_flow(name, None, resolver)
    addon.dns_request(flow)
    assert flow.response is not None and flow.response.response_code == rcode
    assert [str(a) for a in flow.response.answers] == answers
    assert flow.metadata["audit"]["dns_answered_by"] == "zone"


def test_contained_mode_takes_the_real_resolver_out(contained) -> None:
    addon, tctx = contained
    assert tctx.master.addons.get("dnsresolver") is not None
    addon.running()
    assert tctx.master.addons.get("dnsresolver") is None


@pytest.mark.parametrize(("address", "routed"), [((WORLD_IP, 5222), True), ((WORLD_IP, 443), False),
                                                 (("198.51.100.7", 1883), False)])
def test_contained_raw_connections_go_to_a_responder_or_nowhere(contained, address, routed) -> None:
    addon, _ = contained
    server = tflow.tserver_conn()
    server.address = address
    server.transport_protocol = "udp" if address[1] == 443 else "tcp"
    addon.server_connect(server_hooks.ServerConnectionHookData(server=server, client=tflow.tclient_conn()))
    assert (server.address == ("127.0.0.21", 15222)) is routed
    assert (server.error is None) is routed


def next_layer_for(datagram: bytes, port: int) -> layer.NextLayer:
    """What mitmproxy's next_layer hands the addons after picking QUIC for a datagram."""
    client = tflow.tclient_conn()
    client.transport_protocol = "udp"
    client.proxy_mode = ProxyMode.parse("wireguard")
    client.sni = None
    server = tflow.tserver_conn()
    server.address = (WORLD_IP, port)
    server.transport_protocol = "udp"
    server.timestamp_start = None
    server.sni = None
    context = Context(client, options.Options())
    context.server = server
    nl = layer.NextLayer(context)
    nl.layer = layers.ServerQuicLayer(context)
    nl.data_client = lambda: datagram  # type: ignore[method-assign]
    return nl


def test_blocked_quic_is_refused_and_recorded(tmp_path: Path) -> None:
    quic, flowlog = Quic(), FlowLog()
    with taddons.context(quic, flowlog) as tctx:
        tctx.configure(quic, audit_block_quic=True)
        tctx.configure(flowlog, audit_capture_dir=str(tmp_path))
        nl = next_layer_for(quic_initial("h3.vendor-cloud.example"), 443)
        quic.next_layer(nl)
        assert isinstance(nl.layer, layers.UDPLayer)
        data = server_hooks.ServerConnectionHookData(server=nl.context.server, client=nl.context.client)
        quic.server_connect(data)
        assert data.server.error == BLOCKED
        flow = nl.layer.flow
        flow.error = tflow.terr(BLOCKED)
        flowlog.udp_error(flow)
    [record] = records(tmp_path)
    assert record["kind"] == "quic" and record["sni"] == "h3.vendor-cloud.example"
    assert BLOCKED in record["notes"]


def test_quic_is_left_alone_unless_blocked(tmp_path: Path) -> None:
    quic = Quic()
    with taddons.context(quic):
        nl = next_layer_for(b"", 443)
        picked = nl.layer
        quic.next_layer(nl)
        assert nl.layer is picked


def test_a_contained_raw_connection_without_a_lookup_is_named_by_the_address_asked_for(
        tmp_path: Path, canaries_file: Path) -> None:
    """An app that connects to an IP it never looked up (no DNS flow to name it): the record
    names the address it asked for, never the lab responder containment sent it to."""
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps(ZONE))
    audit = Audit.standard()
    with taddons.context(audit) as tctx:
        tctx.configure(audit, audit_jurisdiction="IN", audit_watchlist=["CN"], audit_zone=str(zone),
                       audit_geo_overrides=[f"{WORLD_IP}/32=CN:Watch Cloud:CN"],
                       audit_canaries=str(canaries_file), audit_capture_dir=str(tmp_path / "cap"),
                       audit_device="virtual:vendor-1.0", audit_max_body_bytes=8192)
        flow = raw_flow(tcp.TCPFlow, (WORLD_IP, 5222), [])
        audit.server_connect(server_hooks.ServerConnectionHookData(server=flow.server_conn, client=flow.client_conn))
        assert flow.server_conn.address == ("127.0.0.21", 15222)  # the lab responder
        flow.server_conn.peername = flow.server_conn.address
        audit.tcp_start(flow)
        flow.messages.append(tcp.TCPMessage(True, b"<stream:stream to='vendor'>"))
        audit.tcp_message(flow)
        audit.tcp_end(flow)
    record = records(tmp_path / "cap")[-1]
    assert (record["host"], record["server_ip"], record["server_port"]) == (WORLD_IP, WORLD_IP, 5222)
    assert record["country"] == "CN"


@pytest.mark.parametrize(("port", "first", "cleartext"), [
    (8883, tls_client_hello("mqtt.vendor-cloud.example"), False),  # TLS passed on undecrypted
    (4070, tls_client_hello("opaque.vendor-cloud.example"), False),  # TLS on a port that says nothing
    (5222, b"<stream:stream to='vendor'>", True),  # XMPP in clear
])
def test_only_a_raw_tcp_payload_that_is_not_tls_is_cleartext(chain, port, first, cleartext) -> None:
    audit, folder = chain
    flow = raw_flow(tcp.TCPFlow, (WORLD_IP, port), [(True, first), (False, b"\x17\x03\x03\x00\x01x")])
    audit.tcp_end(flow)
    record = records(folder)[-1]
    assert ("cleartext" in record["flags"]) is cleartext
    assert (record["protocol"] == "tls") is not cleartext


def test_quic_passed_on_is_not_cleartext(chain) -> None:
    audit, folder = chain
    quic = raw_flow(udp.UDPFlow, (WORLD_IP, 443), [(True, quic_initial("h3.vendor-cloud.example"))])
    audit.udp_end(quic)
    beacon = raw_flow(udp.UDPFlow, (WORLD_IP, 9999), [(True, b"beacon")])
    audit.udp_end(beacon)
    quic_record, beacon_record = records(folder)[-2:]
    assert quic_record["kind"] == "quic" and "cleartext" not in quic_record["flags"]
    assert "cleartext" in beacon_record["flags"]
