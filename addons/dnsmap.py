"""Name raw TCP and UDP flows by the DNS answers the handset was given.

    mitmdump --mode wireguard -s addons/dnsmap.py

Each DNS answer (A/AAAA, and the names a CNAME chain went through) is kept as
IP -> names, per client (one proxy serves one handset; the client address keeps two
tunnels apart all the same). A TCP or UDP flow to one of those IPs gets
`flow.metadata["audit"]["dns_names"]` and, without a TLS SNI, its `host` from the
most recent answer; HTTP flows carry their own Host header.
"""

from __future__ import annotations

from collections import OrderedDict

from mitmproxy import dns, tcp, udp
from mitmproxy.net.dns import types

from harness.names import clean_host
from harness.proxy.verdicts import audit_of

MAX_ENTRIES = 50_000


def answered_names(flow: dns.DNSFlow) -> dict[str, list[str]]:
    """IP -> the names that led to it, from one DNS response."""
    response = flow.response
    if response is None:
        return {}
    question = clean_host(response.questions[0].name) if response.questions else None
    aliases = [question] if question else []
    result: dict[str, list[str]] = {}
    for answer in response.answers:
        name = clean_host(answer.name)
        if answer.type == types.CNAME and name and name not in aliases:
            aliases.append(name)
        elif answer.type in (types.A, types.AAAA):
            try:
                ip = str(answer.ipv4_address if answer.type == types.A else answer.ipv6_address)
            except ValueError:
                continue
            names = [n for n in [*aliases, name] if n]
            result.setdefault(ip, [])
            for n in names:
                if n not in result[ip]:
                    result[ip].append(n)
    return result


class DnsMap:
    def __init__(self) -> None:
        self._names: OrderedDict[tuple[str, str], list[str]] = OrderedDict()

    def dns_response(self, flow: dns.DNSFlow) -> None:
        client = str(flow.client_conn.peername[0]) if flow.client_conn.peername else ""
        for ip, names in answered_names(flow).items():
            key = (client, ip)
            known = self._names.pop(key, [])
            # most recent first: the name an app just looked up is the one it connects to
            self._names[key] = names + [n for n in known if n not in names]
        while len(self._names) > MAX_ENTRIES:
            self._names.popitem(last=False)

    def names_for(self, client: str, ip: str) -> list[str]:
        return list(self._names.get((client, ip), ()))

    def _name(self, flow: tcp.TCPFlow | udp.UDPFlow) -> None:
        address = flow.server_conn.address
        if address is None:
            return
        client = str(flow.client_conn.peername[0]) if flow.client_conn.peername else ""
        names = self.names_for(client, str(address[0]))
        if names:
            audit = audit_of(flow)
            audit["dns_names"] = names
            audit.setdefault("dns_host", names[0])

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._name(flow)

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._name(flow)


addons = [DnsMap()]
