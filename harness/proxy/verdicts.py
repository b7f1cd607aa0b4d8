"""The audit verdicts a flow carries, and the flow record built from them.

Addons write their verdicts into `flow.metadata["audit"]`, a plain dict (it is saved in
flows.mitm with the flow, so it holds only JSON-like values); `flow_record` turns a
flow and its verdicts into the flow record of the capture contract
(docs/architecture.md), for the flowlog addon and for `lab import` alike.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from mitmproxy import dns, http, tcp, udp
from mitmproxy import flow as mflow
from mitmproxy.net import check
from mitmproxy.net.http import url

from harness.names import clean_host, is_ip
from harness.proxy.payload import guess_tcp, guess_udp, tls_sni

AUDIT = "audit"


def audit_of(flow: mflow.Flow) -> dict[str, Any]:
    """The flow's verdict dict, created on first use."""
    audit = flow.metadata.get(AUDIT)
    if not isinstance(audit, dict):
        audit = {}
        flow.metadata[AUDIT] = audit
    return audit


def add_flags(audit: dict[str, Any], *flags: str) -> None:
    current = audit.setdefault("flags", [])
    for flag in flags:
        if flag not in current:
            current.append(flag)


def add_note(audit: dict[str, Any], note: str) -> None:
    notes = audit.setdefault("notes", [])
    if note not in notes:
        notes.append(note)


# mitmproxy's `pretty_host` and `pretty_url` parse the Host header on every call (a regex,
# IDNA both ways, a validity check): a tenth of what auditing a flow costs, for a header
# that nearly always names the request's own host. These give the same answers (tested
# case by case against mitmproxy's) and parse only a Host header that names another.


@functools.lru_cache(maxsize=4096)
def _valid_host(host: str) -> bool:
    return check.is_valid_host(host)


def _is_own_host(header: str, host: str) -> bool:
    """The Host header is the host alone, and mitmproxy would parse it back to it (a
    bracketed host loses its brackets)."""
    return header == host and "[" not in host


def _is_own_host_port(header: str, host: str, port: int) -> bool:
    """The Host header is `host:port`, and mitmproxy would parse it back to them."""
    return (
        header == f"{host}:{port}" and 0 < port <= 65535
        and ":" not in host and "[" not in host and _valid_host(host)
    )


def pretty_host(request: http.Request) -> str:
    """`request.pretty_host`: the Host header's host, else the request's."""
    header, host = request.host_header, request.host
    if not header or _is_own_host(header, host) or _is_own_host_port(header, host, request.port):
        return host
    return request.pretty_host


def pretty_url(request: http.Request) -> str:
    """`request.pretty_url`: the URL with the Host header's host and port."""
    if request.first_line_format != "authority":
        header = request.host_header
        if not header:
            return request.url
        host, port = request.host, request.port
        on_default_port = port == (url.default_port(request.scheme) or 443)
        if (_is_own_host(header, host) and on_default_port) or _is_own_host_port(header, host, port):
            return request.url
    return request.pretty_url


def flow_host(flow: mflow.Flow) -> str | None:
    """Host/:authority for HTTP; else SNI; else the address the client asked for."""
    if isinstance(flow, http.HTTPFlow):
        return clean_host(pretty_host(flow.request))
    if isinstance(flow, dns.DNSFlow):
        question = flow.request.question
        return clean_host(question.name) if question else None
    if flow.client_conn.sni:
        return clean_host(flow.client_conn.sni)
    audit = flow.metadata.get(AUDIT) or {}
    for key in ("payload_sni", "dns_host"):  # a ClientHello we did not intercept; a DNS answer
        if audit.get(key):
            return clean_host(str(audit[key]))
    sni = flow.server_conn.sni  # containment sets it to the address asked for, an IP included:
    if sni:  # the name of what the client asked for, never the lab responder it was sent to
        return clean_host(sni)
    address = flow.server_conn.address
    return clean_host(address[0]) if address else None


def connected_ip(flow: mflow.Flow) -> str | None:
    """The address actually connected to (or the one requested, if it is an IP)."""
    peer = flow.server_conn.peername
    if peer:
        return str(peer[0])
    address = flow.server_conn.address
    if address and is_ip(str(address[0])):
        return str(address[0])
    return None


def flow_kind(flow: mflow.Flow) -> str:
    audit = flow.metadata.get(AUDIT) or {}
    if audit.get("kind"):
        return str(audit["kind"])
    if isinstance(flow, http.HTTPFlow):
        return "error" if flow.error and not flow.response else "http"
    if isinstance(flow, udp.UDPFlow):
        return "udp"
    if isinstance(flow, dns.DNSFlow):
        return "error" if flow.error and not flow.response else "dns"
    return "tcp"


def _body_size(message: http.Message | None, audit: dict[str, Any], key: str) -> int | None:
    if message is None:
        return None
    if key in audit:
        return int(audit[key])
    raw = message.raw_content
    if raw is not None:
        return len(raw)
    length = message.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def _tls(flow: mflow.Flow, audit: dict[str, Any]) -> dict[str, Any]:
    client = flow.client_conn
    return {
        "intercepted": bool(client.tls_established),
        "version": client.tls_version,
        "failure": audit.get("tls_failure"),
    }


def _timestamps(flow: mflow.Flow) -> tuple[float, float]:
    start = flow.timestamp_created
    end: float | None = None
    if isinstance(flow, http.HTTPFlow):
        start = flow.request.timestamp_start or start
        if flow.response is not None:
            end = flow.response.timestamp_end or flow.response.timestamp_start
        end = end or flow.request.timestamp_end
    elif isinstance(flow, dns.DNSFlow):
        start = flow.request.timestamp or start
        end = flow.response.timestamp if flow.response is not None else None
    if flow.error is not None:
        end = max(end or 0.0, flow.error.timestamp)
    elif isinstance(flow, tcp.TCPFlow | udp.UDPFlow) and flow.messages:
        end = flow.messages[-1].timestamp
    return float(start), float(end or time.time())


def flow_record(flow: mflow.Flow, device: str | None = None) -> dict[str, Any]:
    """The flow record of the capture contract, from a flow and its audit verdicts."""
    audit = dict(flow.metadata.get(AUDIT) or {})
    ts_start, ts_end = _timestamps(flow)
    client = flow.client_conn
    server_address = flow.server_conn.address
    connected = connected_ip(flow)
    record: dict[str, Any] = {
        "id": flow.id,
        "ts_start": ts_start,
        "ts_end": ts_end,
        "device": audit.get("device") or device,
        "client_ip": str(client.peername[0]) if client.peername else None,
        "client_port": int(client.peername[1]) if client.peername else None,
        # when the proxy accepted the client's connection: what a connect() seen by Frida
        # is matched against (ts_start waits for CONNECT and both TLS handshakes)
        "ts_client_connect": float(client.timestamp_start) if client.timestamp_start else None,
        "host": audit["host"] if "host" in audit else flow_host(flow),
        "sni": clean_host(client.sni),
        "server_ip": audit["server_ip"] if "server_ip" in audit else audit.get("world_ip") or connected,
        "server_port": audit.get("server_port", audit.get("world_port") or (server_address[1] if server_address else None)),
        "scheme": None,
        "method": None,
        "url": None,
        "http_version": None,
        "status": None,
        "request_bytes": None,
        "response_bytes": None,
        "tls": _tls(flow, audit),
        "country": audit.get("country"),
        "country_sources": audit.get("country_sources", {}),
        "country_confidence": audit.get("country_confidence", "unknown"),
        "org": audit.get("org"),
        "org_country": audit.get("org_country"),
        "flags": list(audit.get("flags", [])),
        "findings": list(audit.get("findings", [])),
        "app": audit.get("app"),
        "attribution": audit.get("attribution"),
        "kind": flow_kind(flow),
        "notes": list(audit.get("notes", [])),
        "error": flow.error.msg if flow.error else flow.server_conn.error,
        "geo_label": audit.get("geo_label"),
        "connected_ip": connected,
    }
    if isinstance(flow, http.HTTPFlow):
        request = flow.request
        record.update(
            scheme=request.scheme,
            method=request.method,
            url=pretty_url(request),
            http_version=request.http_version,
            status=flow.response.status_code if flow.response else None,
            request_bytes=_body_size(request, audit, "request_bytes"),
            response_bytes=_body_size(flow.response, audit, "response_bytes"),
        )
    elif isinstance(flow, tcp.TCPFlow | udp.UDPFlow):
        record.update(
            scheme="tls" if client.tls_established else flow.type,
            request_bytes=sum(len(m.content) for m in flow.messages if m.from_client),
            response_bytes=sum(len(m.content) for m in flow.messages if not m.from_client),
        )
        record.update(raw_fields(flow, audit))
        if record["kind"] == "quic" or record.get("protocol") == "quic":
            record["kind"] = "quic"
            record["sni"] = record["sni"] or record.get("payload_sni")
    elif isinstance(flow, dns.DNSFlow):
        record.update(dns_fields(flow), scheme="dns",
                      request_bytes=len(flow.request.packed),
                      response_bytes=len(flow.response.packed) if flow.response else None)
    return record


def raw_fields(flow: tcp.TCPFlow | udp.UDPFlow, audit: dict[str, Any]) -> dict[str, Any]:
    """A raw TCP/UDP flow's extra fields: protocol guess, SNI of a ClientHello that was
    not intercepted, the names DNS gave its IP, the transport."""
    first = next((m.content for m in flow.messages if m.from_client), b"")
    address = flow.server_conn.address
    port = audit.get("world_port") or (address[1] if address else None)
    fields: dict[str, Any] = {"transport": flow.type, "dns_names": list(audit.get("dns_names") or [])}
    if isinstance(flow, udp.UDPFlow):
        protocol, sni = guess_udp(first, port)
        quic = audit.get("quic") or {}
        if quic:
            protocol, sni = "quic", quic.get("sni") or sni
    else:
        protocol = guess_tcp(first, port)
        sni = tls_sni(first) if protocol == "tls" and not flow.client_conn.tls_established else None
    fields["protocol"] = audit.get("protocol") or protocol
    fields["payload_sni"] = sni
    return fields


def dns_fields(flow: dns.DNSFlow) -> dict[str, Any]:
    """A DNS flow's query, answers and the resolver asked (`dns` in the record)."""
    question = flow.request.question
    response = flow.response
    address = flow.server_conn.address
    answers = []
    if response is not None:
        for answer in response.answers:
            try:
                data = str(answer)  # the address, name or text it carries
            except (ValueError, UnicodeDecodeError):
                data = answer.data.hex()
            answers.append({"name": clean_host(answer.name), "type": dns.types.to_str(answer.type),
                            "data": data, "ttl": answer.ttl})
    return {
        "dns": {
            "name": clean_host(question.name) if question else None,
            "type": dns.types.to_str(question.type) if question else None,
            "answers": answers,
            "rcode": dns.response_codes.to_str(response.response_code) if response is not None else None,
            "resolver": f"{address[0]}:{address[1]}" if address else None,
            "answered_by": (flow.metadata.get(AUDIT) or {}).get("dns_answered_by"),
        },
    }
