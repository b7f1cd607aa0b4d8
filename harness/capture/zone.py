"""zone.json: the contract between the virtual internet and contained mode.

```json
{"version": 1, "ca": "/path/internet-ca.pem",
 "hosts": {"analytics.vendor-cloud.example": {"world_ip": "203.0.113.10",
           "ports": {"80": "127.0.0.21:18080", "443": "127.0.0.21:18443"}}}}
```

Responders must be on loopback: a contained lab never leaves it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture import bounded_json
from harness.names import clean_host


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
        data = bounded_json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    zone = parse_zone_data(data, path)
    if zone.ca is not None and not zone.ca.is_file():
        raise ValueError(f"{path}: zone CA {zone.ca} does not exist")
    return zone
