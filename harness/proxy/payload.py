"""What the first bytes of a raw TCP or UDP flow say: a cheap protocol guess and the
TLS / QUIC ClientHello's SNI, read with mitmproxy's own ClientHello parsers.

Only the opening bytes the client sent are looked at; nothing here decrypts.
"""

from __future__ import annotations

from mitmproxy.proxy.layers.quic._client_hello_parser import quic_parse_client_hello_from_datagrams
from mitmproxy.proxy.layers.tls import parse_client_hello

from harness.names import clean_host

MQTT_PORTS = frozenset({1883, 8883})
XMPP_PORTS = frozenset({5222, 5223, 5228})
_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ")


def tls_sni(data: bytes) -> str | None:
    """The SNI of a TLS ClientHello at the start of `data`, or None."""
    if len(data) < 6 or data[0] != 0x16 or data[1] != 0x03:
        return None
    try:
        hello = parse_client_hello(data)
    except ValueError:
        return None
    return clean_host(hello.sni) if hello is not None and hello.sni else None


def quic_sni(datagram: bytes) -> tuple[bool, str | None]:
    """(is a QUIC Initial packet, the SNI of its ClientHello or None)."""
    if len(datagram) < 20 or not datagram[0] & 0x80 or not datagram[0] & 0x40:
        return False, None  # not a QUIC long header
    try:
        hello = quic_parse_client_hello_from_datagrams([datagram])
    except (ValueError, KeyError, IndexError, AssertionError):
        return False, None
    if hello is None:
        return True, None  # a ClientHello split over several Initials: QUIC all the same
    return True, clean_host(hello.sni) if hello.sni else None


def guess_tcp(first: bytes, port: int | None) -> str | None:
    """tls, http, mqtt, xmpp or None, from the client's first bytes (and the port)."""
    if len(first) >= 3 and first[0] == 0x16 and first[1] == 0x03:
        return "tls"
    if first.startswith(_HTTP_METHODS):
        return "http"
    if first.startswith(b"\x10") and b"MQTT" in first[:16] or first.startswith(b"\x10") and b"MQIsdp" in first[:16]:
        return "mqtt"
    head = first[:200].lstrip()
    if head.startswith(b"<?xml") and b"jabber" in first[:400] or head.startswith(b"<stream:stream"):
        return "xmpp"
    if port in MQTT_PORTS and first[:1] == b"\x10":
        return "mqtt"
    return None


def guess_udp(first: bytes, port: int | None) -> tuple[str | None, str | None]:
    """(protocol guess, SNI) for a UDP flow's first client datagram: quic, dns or None."""
    is_quic, sni = quic_sni(first)
    if is_quic:
        return "quic", sni
    if port == 53:
        return "dns", None
    return None, None
