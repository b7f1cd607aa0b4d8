"""Full-device captures (WireGuard mode, issue 20) for analysis, report and diff tests:
the vendor scenario of capture_builder plus the records only full capture makes, shaped
as addons/flowlog.py writes them (tests/addons/test_raw_kinds.py): DNS lookups, a raw
TCP push channel carrying the IMEI (base64), a UDP beacon, a QUIC flow passed on unread
and an HTTP/3 request.

    FullCaptureBuilder(tmp_path / "run", mode="wireguard").vendor_scenario().full_scenario().write()

run.json records the proxy mode as the session does (`proxy.mode`); its lab snapshot
locates the partner's and the push host's addresses (geo overrides), so the analysis
can place DNS answers no connection went to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.capture_builder import IMEI, TELEMETRY_HOST, CaptureBuilder, _geo

PUSH_HOST = "push.vendor-cloud.example"
PUSH_IP = "203.0.113.10"
BEACON_HOST = "beacon.adsdk.example"
BEACON_IP = "8.209.64.20"
H3_HOST = "h3.vendor-cloud.example"
PARTNER_HOST = "collect.partner-metrics.example"
PARTNER_IP = "39.156.66.10"
CLOCK_HOST = "time.portal.example"
CLOCK_IP = "49.44.2.2"
RESOLVER = "10.0.0.53"
IMEI_B64 = "eyJpbWVpIjoiMzU2OTM4MDM1NjQzODA5In0="  # base64 of {"imei":"356938035643809"}
CN = _geo("CN", "Example Watch-list Cloud", "CN")
SG = _geo("SG", "Example Ad Network", "DE")
NO_GEO = {"country": None, "country_sources": {}, "country_confidence": "unknown", "org": None, "org_country": None}


class FullCaptureBuilder(CaptureBuilder):
    def __init__(self, *args: Any, mode: str = "wireguard", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.extra_zone: dict[str, dict[str, Any]] = {}  # more hosts of zone.json: name -> {world_ip, ports}

    def dns(self, name: str, answers: list[str], *, at: float, app: str | None = None,
            findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        record = self.flow(name, at=at, server_ip=RESOLVER, geo=NO_GEO,
                           kind="dns", port=53, request_bytes=40, app=app, findings=findings, method="")
        record.update(scheme="dns", sni=None, tls={"intercepted": False, "version": None, "failure": None},
                      response_bytes=40 + 16 * len(answers), dns={
                          "name": name, "type": "A", "rcode": "NOERROR" if answers else "NXDOMAIN",
                          "answers": [{"name": name, "type": "A", "data": ip, "ttl": 60} for ip in answers],
                          "resolver": f"{RESOLVER}:53", "answered_by": "zone"})
        return record

    def raw(self, kind: str, host: str | None, ip: str, port: int, *, at: float, geo: dict[str, Any],
            up: int, down: int, protocol: str | None = None, sni: str | None = None,
            dns_names: list[str] | None = None, flags: list[str] | None = None,
            findings: list[dict[str, Any]] | None = None, app: str | None = None) -> dict[str, Any]:
        transport = "udp" if kind in ("udp", "quic") else "tcp"
        record = self.flow(host or ip, at=at, server_ip=ip, geo=geo, kind=kind, port=port, request_bytes=up,
                           flags=flags, findings=findings, app=app)
        record.update(host=host or ip, sni=sni if kind == "quic" else None, scheme=transport, response_bytes=down,
                      tls={"intercepted": False, "version": None, "failure": None}, protocol=protocol,
                      transport=transport, payload_sni=sni, dns_names=list(dns_names or []))
        return record

    def full_scenario(self) -> FullCaptureBuilder:
        """What the firmware sends around a proxy setting (see the module doc)."""
        self.dns(TELEMETRY_HOST, [PUSH_IP], at=4.9, app="com.vendor.telemetry")
        self.dns(PUSH_HOST, [PUSH_IP], at=50, app="com.vendor.telemetry")
        self.raw("tcp", PUSH_HOST, PUSH_IP, 5222, at=50.2, geo=CN, up=180, down=5, protocol="xmpp",
                 dns_names=[PUSH_HOST, TELEMETRY_HOST], app="com.vendor.telemetry",
                 flags=["foreign", "watchlist_country", "not_allowlisted", "cleartext", "sensitive_data"],
                 findings=[{"type": "imei", "id": "imei", "where": "tcp", "encoding": "base64", "offset": 27}])
        self.dns(BEACON_HOST, [BEACON_IP], at=52, app="com.vendor.weather")
        self.raw("udp", BEACON_HOST, BEACON_IP, 9999, at=52.1, geo=SG, up=len(f"beacon imei={IMEI}"), down=0,
                 dns_names=[BEACON_HOST], app="com.vendor.weather",
                 flags=["foreign", "not_allowlisted", "cleartext", "sensitive_data"],
                 findings=[{"type": "imei", "id": "imei", "where": "udp", "encoding": "plain", "offset": 12}])
        self.raw("quic", H3_HOST, PUSH_IP, 443, at=53, geo=CN, up=1250, down=0, protocol="quic", sni=H3_HOST,
                 app="com.vendor.weather", flags=["foreign", "watchlist_country", "not_allowlisted"])
        h3 = self.flow(H3_HOST, at=54, server_ip=PUSH_IP, geo=CN, path="/v1/h3/report", request_bytes=90,
                       response_bytes=10, app="com.vendor.weather",
                       flags=["foreign", "watchlist_country", "not_allowlisted"])
        h3["http_version"] = "HTTP/3"
        self.dns(CLOCK_HOST, [CLOCK_IP], at=55)
        if self.variant == "vendor-1.1":  # the partner's domain looked up, never connected to
            for i in range(3):
                self.dns(PARTNER_HOST, [PARTNER_IP], at=60 + 10 * i, app="com.vendor.weather")
        return self

    def zone(self) -> dict[str, Any]:
        zone = super().zone()
        zone["hosts"].update(self.extra_zone)
        return zone

    def run_json(self) -> dict[str, Any]:
        run = super().run_json()
        run["proxy"] = {"mode": self.mode, "listen_host": "127.0.0.1", "port": 38411, "network": "contained",
                        "block_quic": False}
        run["lab"]["geo"]["overrides"] += [
            {"cidr": "39.156.66.0/24", "country": "CN", "org": "Partner Metrics Co", "org_country": "CN"},
            {"cidr": "49.44.2.0/24", "country": "IN", "org": "Portal India", "org_country": "IN"},
        ]
        return run


def build_full(root: Path, variant: str = "vendor-1.0", mode: str = "wireguard") -> Path:
    """A full-device capture of `variant` in `root` (its folder)."""
    return FullCaptureBuilder(root, variant=variant, mode=mode).vendor_scenario().full_scenario().write()
