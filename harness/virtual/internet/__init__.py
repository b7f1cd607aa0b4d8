"""The virtual internet: a zone (hostname -> world IP) and local responders.

`start_internet(runtime_dir)` starts HTTP and HTTPS responders on 127.0.0.x for every
zone host (certificates from the virtual internet's own CA) and writes `zone.json`:

    {"version": 1, "ca": "/path/internet-ca.pem",
     "hosts": {"analytics.vendor-cloud.example": {"world_ip": "47.88.1.10",
               "ports": {"80": "127.0.0.20:PORT", "443": "127.0.0.20:PORT"}}}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.virtual.internet.ca import InternetCA, cache_dir, spki_pin, subject_hash_old
from harness.virtual.internet.responders import Responders
from harness.virtual.internet.zone import ZONE, ZoneHost, zone_hosts

__all__ = ["Internet", "InternetCA", "ZONE", "ZoneHost", "cache_dir", "internet_ca",
           "spki_pin", "start_internet", "subject_hash_old", "zone_hosts"]


def internet_ca() -> InternetCA:
    """The (cached) root of the virtual internet, without starting any responder."""
    return InternetCA()


class Internet:
    """A running virtual internet: `.zone_path`, `.ca_pem`, `.resolve()`, `.stop()`."""

    def __init__(self, runtime_dir: Path, ca: InternetCA, responders: Responders) -> None:
        self.ca = ca
        self.ca_pem: Path = ca.cert_pem
        self.ca_pin: str = ca.pin
        self._responders = responders
        self.zone_path: Path = Path(runtime_dir) / "zone.json"

    @property
    def hosts(self) -> dict[str, ZoneHost]:
        return zone_hosts()

    def resolve(self, hostname: str, port: int) -> str | None:
        """The responder "127.0.0.x:PORT" that answers hostname:port, or None (no such host)."""
        ports = self._responders.bindings.get(hostname.lower())
        if ports is None:
            return None
        return ports.get(port) or ports.get(443 if port != 80 else 80)

    def zone_document(self) -> dict:
        hosts = {}
        for h in ZONE:
            ports = self._responders.bindings.get(h.hostname, {})
            hosts[h.hostname] = {"world_ip": h.world_ip,
                                 "ports": {str(p): addr for p, addr in sorted(ports.items())}}
        return {"version": 1, "ca": str(self.ca_pem), "hosts": hosts}

    def write_zone(self) -> None:
        self.zone_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.zone_path.with_name(f".zone.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.zone_document(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.zone_path)

    def stop(self) -> None:
        self._responders.stop()

    def __enter__(self) -> Internet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_internet(runtime_dir: Path | str) -> Internet:
    """Start the responders for the whole zone and write runtime_dir/zone.json."""
    ca = InternetCA()
    responders = Responders(list(ZONE), ca)
    responders.start()
    internet = Internet(Path(runtime_dir), ca, responders)
    internet.write_zone()
    return internet
