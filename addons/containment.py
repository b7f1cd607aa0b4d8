"""Contained network mode: upstream connections go to the lab's responders, nowhere else.

    mitmdump -s addons/containment.py --set audit_zone=zone.json

The zone (zone.json, docs/architecture.md) maps hostnames to a world IP and, per port,
a responder on loopback. A server connection to a zone host (by name or by world IP) is
redirected to its responder and verified against the zone's CA; the flow keeps the
world IP (flow.metadata["audit"]["world_ip"]) so it is classified as if it had gone out.
A host not in the zone is refused before any connection or DNS lookup: nothing leaves
the lab, and the flow is recorded with a note.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from mitmproxy import ctx, exceptions, http, tcp, udp
from mitmproxy import flow as mflow
from mitmproxy.proxy import server_hooks

from harness.flow_audit import add_note, audit_of, clean_host, flow_host

logger = logging.getLogger(__name__)

REFUSED = "contained: not in the lab's zone"


@dataclass(frozen=True)
class ZoneHost:
    name: str
    world_ip: str
    ports: dict[int, tuple[str, int]]


@dataclass(frozen=True)
class Zone:
    ca: Path | None
    hosts: dict[str, ZoneHost] = field(default_factory=dict)
    by_ip: dict[str, ZoneHost] = field(default_factory=dict)

    def lookup(self, host: str | None) -> ZoneHost | None:
        if not host:
            return None
        return self.hosts.get(host) or self.by_ip.get(host)


def _responder(value: object, where: str) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"{where}: responder must be 'IP:PORT', got {value!r}")
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError as e:
        raise ValueError(f"{where}: responder must be 'IP:PORT', got {value!r}") from e
    if not address.is_loopback:
        raise ValueError(f"{where}: responder {value} is not on loopback; a contained lab never leaves it")
    if not 0 < number < 65536:
        raise ValueError(f"{where}: bad port in {value!r}")
    return host, number


def parse_zone_data(data: object, origin: str = "zone.json") -> Zone:
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        raise ValueError(f"{origin}: expected an object with 'hosts'")
    if data.get("version", 1) != 1:
        raise ValueError(f"{origin}: unsupported zone version {data.get('version')!r}")
    ca = data.get("ca")
    if ca is not None and not isinstance(ca, str):
        raise ValueError(f"{origin}: 'ca' must be a path")
    hosts: dict[str, ZoneHost] = {}
    by_ip: dict[str, ZoneHost] = {}
    for name, entry in data["hosts"].items():
        host = clean_host(name)
        if not host or not isinstance(entry, dict):
            raise ValueError(f"{origin}: hosts.{name}: expected an object")
        world_ip = entry.get("world_ip")
        try:
            world = str(ipaddress.ip_address(str(world_ip)))
        except ValueError as e:
            raise ValueError(f"{origin}: hosts.{name}.world_ip: {world_ip!r} is not an IP address") from e
        ports_raw = entry.get("ports")
        if not isinstance(ports_raw, dict) or not ports_raw:
            raise ValueError(f"{origin}: hosts.{name}.ports: expected {{port: 'IP:PORT'}}")
        ports: dict[int, tuple[str, int]] = {}
        for port, responder in ports_raw.items():
            if not str(port).isdigit():
                raise ValueError(f"{origin}: hosts.{name}.ports: {port!r} is not a port")
            ports[int(port)] = _responder(responder, f"{origin}: hosts.{name}.ports.{port}")
        zone_host = ZoneHost(host, world, ports)
        hosts[host] = zone_host
        by_ip.setdefault(world, zone_host)
    return Zone(Path(ca) if ca else None, hosts, by_ip)


def parse_zone(path: str) -> Zone | None:
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    zone = parse_zone_data(data, path)
    if zone.ca is not None and not zone.ca.is_file():
        raise ValueError(f"{path}: zone CA {zone.ca} does not exist")
    return zone


class Containment:
    def __init__(self) -> None:
        self.zone: Zone | None = None
        # server connection id -> (world ip, world port, responder)
        self._routes: OrderedDict[str, tuple[str, int, str]] = OrderedDict()

    def load(self, loader):
        loader.add_option(
            "audit_zone", str, "",
            "Contained mode: zone.json mapping hostnames to world IPs and loopback responders.",
        )

    def configure(self, updated):
        if "audit_zone" not in updated:
            return
        try:
            self.zone = parse_zone(ctx.options.audit_zone)
        except ValueError as e:
            raise exceptions.OptionsError(f"audit_zone: {e}") from e
        if self.zone is not None and self.zone.ca is not None and not ctx.options.ssl_verify_upstream_trusted_ca:
            ctx.options.update(ssl_verify_upstream_trusted_ca=str(self.zone.ca))

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if self.zone is None or data.server.address is None:
            return
        host, port = clean_host(data.server.address[0]), data.server.address[1]
        entry = self.zone.lookup(host)
        responder = entry.ports.get(port) if entry else None
        if entry is None or responder is None:
            data.server.error = f"{REFUSED} ({host}:{port}); nothing left the lab"
            logger.info("contained: refused %s:%s (not in the zone)", host, port)
            return
        self._routes[data.server.id] = (entry.world_ip, port, f"{responder[0]}:{responder[1]}")
        if len(self._routes) > 100_000:
            self._routes.popitem(last=False)
        if not data.server.sni:
            # verify the responder as the host the client asked for, not as 127.0.0.x
            data.server.sni = host
        data.server.address = responder

    def _mark(self, flow: mflow.Flow) -> None:
        if self.zone is None:
            return
        audit = audit_of(flow)
        route = self._routes.get(flow.server_conn.id)
        if route is None:
            entry = self.zone.lookup(flow_host(flow))
            if entry is not None:
                route = (entry.world_ip, 0, "")
        if route is not None:
            audit["world_ip"] = route[0]
            if route[1]:
                audit["world_port"] = route[1]
            audit["contained"] = {"responder": route[2] or None}
        errors = (flow.error.msg if flow.error else "", flow.server_conn.error or "")
        if any(REFUSED in text for text in errors):
            audit["contained"] = {"refused": True}
            add_note(audit, "contained: host not in the lab's zone; connection refused, nothing left the lab")

    def response(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self._mark(flow)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self._mark(flow)

    def udp_end(self, flow: udp.UDPFlow) -> None:
        self._mark(flow)


addons = [Containment()]
