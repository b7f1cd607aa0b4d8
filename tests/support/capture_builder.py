"""Synthetic capture folders shaped like the virtual vendor handsets' runs.

Writes the contract files of docs/architecture.md (run.json, flows.jsonl, hooks.jsonl,
canaries.json) into a folder, so analysis, report and diff tests need no handset.

vendor-1.0: a boot-time phone-home of com.vendor.telemetry to a watch-list host,
com.vendor.weather reading the IMEI (stack through com.vendor.analytics.Tracker) and
sending sha256(IMEI) to a foreign analytics host, com.vendor.bank's pinned connection
(tls_failed), a static CDN shard, and a connection that bypassed the proxy.
vendor-1.1: the same plus a new foreign destination receiving a contact (gzip+base64).

firmware_scenario(): the firmware audit's phases instead (steps named by `phase:` as
run.json's timeline records them): first start, SIM insertion (an activation call with
the IMSI and ICCID), idle (a heartbeat with the hashed IMEI every 270 s +/- 8 s, 13 times),
opening Settings (a config fetch), enabling location (a location upload); vendor-1.1's
heartbeat also carries the serial number.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from harness.capture.manifest import write_manifest

IMEI = "356938035643809"
ANDROID_ID = "9774d56d682e549c"
CONTACT = "CANARY-Ada-Lovelace-7f3a"

TELEMETRY_HOST = "telemetry.vendor-cloud.example"
ANALYTICS_HOST = "collect.analytics-sdk.example"
BANK_HOST = "secure.bank.example.in"
WEATHER_HOST = "api.weather.vendor.example.in"
NEW_HOST = "sync.cloudbridge.example"
BYPASS_HOST = "direct.vendor-cloud.example"
PROXY_PORT = 38411

IMSI = "404450123456789"
ICCID = "8991045012345678901"
LOCATION = "28.6139,77.2090"
TELEMETRY_PKG = "com.vendor.telemetry"
FW_TELEMETRY_HOST = "telemetry.vendor-cloud.example"
ACTIVATION_HOST = "activation.vendor-cloud.example"
CONFIG_HOST = "config.vendor-cloud.example"
LBS_HOST = "lbs.vendor-cloud.example"
CLOUD_IP = "47.88.1.20"
CLOUD_IP2 = "47.88.1.30"
REPORTER_STACK = [
    "java.net.Socket.connect(Socket.java:600)",
    "com.labvirt.net.HttpClient.post(HttpClient.java:40)",
    "com.vendor.telemetry.core.Reporter.send(Reporter.java:71)",
    "com.vendor.telemetry.core.Reporter.run(Reporter.java:30)",
]
ACTIVATION_STACK = [
    "android.telephony.TelephonyManager.getSubscriberId(TelephonyManager.java:3000)",
    "com.vendor.telemetry.activation.SimActivation.onSimReady(SimActivation.java:52)",
    "android.content.BroadcastReceiver.onReceive(BroadcastReceiver.java:10)",
]

IMEI_STACK = [
    "android.telephony.TelephonyManager.getImei(TelephonyManager.java:2150)",
    "com.vendor.analytics.Tracker.collectIds(Tracker.java:88)",
    "com.vendor.analytics.Tracker.flush(Tracker.java:120)",
    "com.vendor.weather.MainActivity.onCreate(MainActivity.java:31)",
    "android.app.Activity.performCreate(Activity.java:8000)",
]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _geo(country: str, org: str, org_country: str, *, agree: bool = True) -> dict[str, Any]:
    return {
        "country": country,
        "country_sources": {"overrides": country, "iptocc": country if agree else "US"},
        "country_confidence": "agree" if agree else "disagree",
        "org": org,
        "org_country": org_country,
    }


class CaptureBuilder:
    """Collects records, then writes them as one capture folder."""

    def __init__(self, root: Path, *, variant: str = "vendor-1.0", t0: float = 1_790_000_000.0,
                 run_id: str | None = None, serial: str | None = None):
        self.root = root
        self.variant = variant
        self.t0 = t0
        self.run_id = run_id or f"run-{variant}"
        self.serial = serial or f"virtual:{variant}"
        self.flows: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.raw_flow_lines: list[str] = []
        self.steps = [
            {"index": 0, "kind": "reboot", "start": t0, "end": t0 + 30},
            {"index": 1, "kind": "launch", "package": "com.vendor.weather", "start": t0 + 30, "end": t0 + 60},
            {"index": 2, "kind": "launch", "package": "com.vendor.bank", "start": t0 + 60, "end": t0 + 80},
            {"index": 3, "kind": "idle", "start": t0 + 80, "end": t0 + 120},
        ]
        self._n = 0
        self.end = 120.0  # seconds after t0 the run ended
        self.identifiers_extra: dict[str, str] = {}
        self.planted_extra: list[dict[str, Any]] = []

    # --- records --------------------------------------------------------------------

    def flow(self, host: str, *, at: float, server_ip: str, geo: dict[str, Any],
             flags: list[str] | None = None, findings: list[dict[str, Any]] | None = None,
             method: str = "POST", path: str = "/", request_bytes: int = 300,
             response_bytes: int = 120, kind: str = "http", port: int = 443,
             app: str | None = None, **extra: Any) -> dict[str, Any]:
        self._n += 1
        scheme = "https" if port == 443 else "http"
        record: dict[str, Any] = {
            "id": f"{self.run_id}-f{self._n:04d}",
            "ts_start": self.t0 + at,
            "ts_end": self.t0 + at + 0.2,
            "device": self.serial,
            "client_ip": "127.0.0.1",
            "host": host,
            "sni": host if scheme == "https" else None,
            "server_ip": server_ip,
            "server_port": port,
            "scheme": scheme,
            "method": method if kind == "http" else None,
            "url": f"{scheme}://{host}{path}" if kind == "http" else None,
            "http_version": "HTTP/1.1" if kind == "http" else None,
            "status": 200 if kind == "http" else None,
            "request_bytes": request_bytes,
            "response_bytes": response_bytes if kind == "http" else 0,
            "tls": {"intercepted": kind == "http" and scheme == "https", "version": "TLSv1.3",
                    "failure": None},
            **geo,
            "flags": list(flags or []),
            "findings": list(findings or []),
            "app": app,
            "attribution": None,
            "kind": kind,
            "notes": [],
        }
        record.update(extra)
        self.flows.append(record)
        return record

    def connect(self, package: str, host: str, ip: str, port: int, *, at: float, **extra: Any) -> None:
        self.hooks.append({
            "type": "net:connect", "ts": self.t0 + at, "device": self.serial, "package": package,
            "pid": 4000 + len(package), "thread": "main", "host": host, "ip": ip, "port": port,
            "api": "java.net.Socket.connect", "category": "network", "value": None, "stack": [],
            **extra,
        })

    def request(self, package: str, host: str, *, at: float, path: str = "/",
                stack: list[str] | None = None) -> None:
        """An OkHttp call as the network agent reports it: the URL's host, no address."""
        self.hooks.append({
            "type": "net:request", "ts": self.t0 + at, "device": self.serial, "package": package,
            "pid": 4000 + len(package), "thread": "OkHttp Dispatcher", "host": host, "ip": None,
            "port": None, "api": "okhttp3.OkHttpClient.newCall", "category": "network",
            "value": f"https://{host}{path}", "stack": list(stack or []),
        })

    def read(self, package: str, api: str, category: str, value: Any, stack: list[str], *, at: float) -> None:
        self.hooks.append({
            "type": "hook:event", "ts": self.t0 + at, "device": self.serial, "package": package,
            "pid": 4000 + len(package), "thread": "main", "api": api, "category": category,
            "value": value, "stack": stack,
        })

    # --- the vendor scenario ----------------------------------------------------------

    def vendor_scenario(self, *, phone_homes: int = 3, shard: str = "cdn1", cdn_ip: str = "198.51.100.71",
                        jitter: float = 0.0) -> CaptureBuilder:
        cn = _geo("CN", "Example Watch-list Cloud", "CN")
        for i in range(phone_homes):
            at = 5 + i * 8 + jitter
            if i < phone_homes - 1:
                self.request("com.vendor.telemetry", TELEMETRY_HOST, at=at - 0.05)
            self.flow(TELEMETRY_HOST, at=at, server_ip="203.0.113.10", geo=cn, path="/v1/boot",
                      flags=["foreign", "watchlist_country", "not_allowlisted", "sensitive_data"],
                      findings=[{"type": "android_id", "id": "android_id", "where": "body:$.aid",
                                 "encoding": "plain", "offset": 8}],
                      request_bytes=512 + i, response_bytes=64)
        # weather: reads the IMEI through the analytics SDK, sends sha256(IMEI)
        self.read("com.vendor.weather", "android.telephony.TelephonyManager.getImei", "imei", IMEI,
                  IMEI_STACK, at=31 + jitter)
        self.flow(WEATHER_HOST, at=32 + jitter, server_ip="192.0.2.20", method="GET", path="/forecast?city=Delhi",
                  geo=_geo("IN", "Vendor India Pvt Ltd", "IN"), request_bytes=180, response_bytes=2048)
        us = _geo("US", "Example Analytics Inc", "US")
        for i in range(2):
            at = 33 + i * 10 + jitter
            self.request("com.vendor.weather", ANALYTICS_HOST, at=at - 0.1)
            self.flow(ANALYTICS_HOST, at=at, server_ip="198.51.100.20", geo=us, path="/v2/e",
                      flags=["foreign", "not_allowlisted", "sensitive_data"],
                      findings=[{"type": "imei", "id": "imei", "where": "body:$.d", "encoding": "sha256",
                                 "offset": 6}],
                      request_bytes=700, response_bytes=40)
        self.flow(f"{shard}.vendor-static.example", at=36 + jitter, server_ip=cdn_ip, method="GET",
                  path="/img/logo.png", geo=_geo("US", "Example CDN", "US"),
                  flags=["foreign", "not_allowlisted"], request_bytes=150, response_bytes=40_000)
        # bank: pinned, the proxy's certificate is rejected
        self.request("com.vendor.bank", BANK_HOST, at=61 + jitter)
        self.flow(BANK_HOST, at=61.1 + jitter, server_ip="192.0.2.50", geo=_geo("IN", "Example Bank", "IN"),
                  kind="tls_failed", flags=["tls_rejected"], request_bytes=517,
                  tls={"intercepted": False, "version": None,
                       "failure": "client rejected the certificate (pinning)"})
        # the weather app's own connect() to the proxy (libc: no host), just before its GET
        self.connect("com.vendor.weather", None, "127.0.0.1", PROXY_PORT, at=31.95 + jitter,
                     api="libc.connect")
        # a connection that went around the proxy, to a contained responder: only Frida saw it
        self.connect("com.vendor.telemetry", BYPASS_HOST, "127.0.0.31", 18444, at=85 + jitter)
        if self.variant == "vendor-1.1":
            self.read("com.vendor.weather", "android.content.ContentResolver.query", "contacts",
                      CONTACT, ["android.content.ContentResolver.query(ContentResolver.java:1)",
                                "com.cloudbridge.sync.ContactUploader.run(ContactUploader.java:12)"],
                      at=90 + jitter)
            self.request("com.vendor.weather", NEW_HOST, at=91 + jitter)
            self.flow(NEW_HOST, at=91.05 + jitter, server_ip="45.33.1.7",
                      geo=_geo("SG", "Cloudbridge Pte", "SG"), path="/up",
                      flags=["foreign", "not_allowlisted", "sensitive_data"],
                      findings=[{"type": "contact", "id": "contact-1", "where": "body:$.blob",
                                 "encoding": "gzip+base64", "offset": 0}],
                      request_bytes=2400, response_bytes=20)
        return self

    # --- the firmware audit -------------------------------------------------------------

    def firmware_scenario(self, *, heartbeat: float = 270.0, beats: int = 13, jitter: float = 8.0,
                          seed: int = 7) -> CaptureBuilder:
        """The firmware audit's phases (see the module doc); returns self."""
        rng = random.Random(seed)
        idle_start, settings_at = 200.0, 200.0 + heartbeat * beats + 30
        self.steps = [
            {"index": 1, "kind": "reboot", "phase": "first start", "start": self.t0, "end": self.t0 + 100},
            {"index": 2, "kind": "sim", "phase": "SIM insertion", "args": {"action": "insert"},
             "start": self.t0 + 100, "end": self.t0 + 200},
            {"index": 3, "kind": "idle", "phase": "idle", "start": self.t0 + idle_start,
             "end": self.t0 + settings_at - 1},
            {"index": 4, "kind": "settings", "phase": "open Settings", "args": {"open": True},
             "start": self.t0 + settings_at, "end": self.t0 + settings_at + 60},
            {"index": 5, "kind": "settings", "phase": "enable location", "args": {"location": "on"},
             "start": self.t0 + settings_at + 60, "end": self.t0 + settings_at + 120},
        ]
        self.end = settings_at + 120
        self.identifiers_extra = {"iccid": ICCID}
        self.planted_extra = [{"type": "location", "id": "location-1", "value": LOCATION}]
        cloud = _geo("US", "Alibaba", "CN")
        abroad = ["foreign", "foreign_org", "not_allowlisted", "sensitive_data"]
        # first start: the telemetry service announces the boot
        # (the hooks' connects as WireGuard mode sees them: to the world address, through the tunnel)
        self.connect(TELEMETRY_PKG, FW_TELEMETRY_HOST, CLOUD_IP, 443, at=20, stack=REPORTER_STACK, proxied=True)
        self.flow(FW_TELEMETRY_HOST, at=20.05, server_ip=CLOUD_IP, geo=cloud, path="/v1/boot", flags=abroad,
                  findings=[{"type": "android_id", "id": "android_id", "where": "body:$.aid",
                             "encoding": "plain", "offset": 8}])
        # SIM insertion: an activation call with the IMSI and the ICCID
        self.read(TELEMETRY_PKG, "android.telephony.TelephonyManager.getSubscriberId", "imsi", IMSI,
                  [*ACTIVATION_STACK], at=130)
        self.read(TELEMETRY_PKG, "android.telephony.TelephonyManager.getSimSerialNumber", "iccid", ICCID,
                  [*ACTIVATION_STACK], at=130.1)
        self.connect(TELEMETRY_PKG, ACTIVATION_HOST, CLOUD_IP2, 443, at=131, stack=ACTIVATION_STACK, proxied=True)
        self.flow(ACTIVATION_HOST, at=131.05, server_ip=CLOUD_IP2, geo=cloud, path="/v2/activate", flags=abroad,
                  findings=[{"type": "imsi", "id": "imsi", "where": "body:$.imsi", "encoding": "plain", "offset": 9},
                            {"type": "iccid", "id": "iccid", "where": "body:$.iccid", "encoding": "plain",
                             "offset": 40}])
        # idle: the heartbeat, with the hashed IMEI (and, in 1.1, the serial number)
        at = idle_start + 10
        extra = ([{"type": "serial", "id": "serial", "where": "body:$.sn", "encoding": "plain", "offset": 70}]
                 if self.variant == "vendor-1.1" else [])
        for i in range(beats):
            self.read(TELEMETRY_PKG, "android.telephony.TelephonyManager.getImei", "imei", IMEI,
                      REPORTER_STACK, at=at - 0.2)
            self.connect(TELEMETRY_PKG, FW_TELEMETRY_HOST, CLOUD_IP, 443, at=at, stack=REPORTER_STACK, proxied=True)
            self.flow(FW_TELEMETRY_HOST, at=at + 0.05, server_ip=CLOUD_IP, geo=cloud, path="/v1/heartbeat",
                      flags=abroad, findings=[{"type": "imei", "id": "imei", "where": "body:$.did",
                                               "encoding": "sha256", "offset": 8}, *extra],
                      request_bytes=400 + i)
            at += heartbeat + (rng.uniform(-jitter, jitter) if i < beats - 1 else 0)
        # opening Settings: a config fetch, nothing sensitive
        self.flow(CONFIG_HOST, at=settings_at + 5, server_ip=CLOUD_IP2, geo=cloud, method="GET",
                  path="/settings/config.json", flags=["foreign", "foreign_org", "not_allowlisted"],
                  request_bytes=220, response_bytes=5000, app="com.android.settings")
        # enabling location: a location upload
        self.flow(LBS_HOST, at=settings_at + 70, server_ip=CLOUD_IP2, geo=cloud, path="/v1/loc", flags=abroad,
                  findings=[{"type": "location", "id": "location-1", "where": "body:$.ll", "encoding": "plain",
                             "offset": 6}], app=TELEMETRY_PKG)
        return self

    # --- writing --------------------------------------------------------------------------

    def run_json(self) -> dict[str, Any]:
        patch = "2026-01-05" if self.variant == "vendor-1.0" else "2026-03-05"
        return {
            "format": "lab-harness-capture",
            "format_version": 1,
            "run_id": self.run_id,
            "status": "ok",
            "started": self.t0,
            "ended": self.t0 + self.end,
            "profile": {"name": "demo", "description": "vendor demo"},
            "lab": {"name": "demo-lab", "jurisdiction": "IN",
                    "policy": {"watchlist_countries": ["CN", "RU", "KP", "IR"]}, "geo": {
                "sources": ["overrides"],
                "overrides": [{"cidr": "203.0.113.0/24", "country": "CN", "org": "Example Watch-list Cloud",
                               "org_country": "CN"}]}},
            "device": {
                "serial": self.serial, "manufacturer": "Vendor", "model": "V1",
                "fingerprint": f"vendor/v1/v1:13/TQ1A/{self.variant}:user/release-keys",
                "release": "13", "sdk": 33, "security_patch": patch,
            },
            "tools": {"harness": "0.1.0", "mitmproxy": "11.0.2", "frida": "17.26.2"},
            "steps": self.steps,
            "counts": {"flows": len(self.flows), "hooks": len(self.hooks)},
            "artifacts": {},
        }

    def canaries(self) -> dict[str, Any]:
        return {
            "identifiers": {"imei": IMEI, "android_id": ANDROID_ID, "serial": "VND0000123",
                            "imsi": IMSI, "phone": "+919800000001", **self.identifiers_extra},
            "planted": [{"type": "contact", "id": "contact-1", "value": CONTACT, "name": "Ada Lovelace"},
                        *self.planted_extra],
        }

    def write(self, *, garbled: int = 0, torn_tail: bool = False, run_json: dict | None = None) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(f) for f in self.flows] + self.raw_flow_lines
        for i in range(garbled):
            lines.insert(min(1 + i * 2, len(lines)), '{"id": "broken", "ts_start": ')
        text = "\n".join(lines) + "\n"
        if torn_tail:
            text += '{"id": "torn", "host": "x'
        (self.root / "flows.jsonl").write_text(text)
        (self.root / "hooks.jsonl").write_text("".join(json.dumps(h) + "\n" for h in self.hooks))
        (self.root / "canaries.json").write_text(json.dumps(self.canaries()))
        (self.root / "journal.json").write_text(json.dumps(self.journal()))
        (self.root / "zone.json").write_text(json.dumps(self.zone()))
        if run_json is not None:  # as given, hashes and all
            (self.root / "run.json").write_text(json.dumps(run_json))
        else:  # as a run writes it: the sha256 of every artifact, so `lab verify` passes
            write_manifest(self.root, self.run_json())
        return self.root

    def journal(self) -> dict[str, Any]:
        return {"serial": self.serial, "entries": [
            {"kind": "reverse", "undo": {"remote": f"tcp:{PROXY_PORT}", "local": f"tcp:{PROXY_PORT}",
                                         "previous_local": None}, "state": "done", "ts": self.t0 - 5},
            {"kind": "http_proxy", "undo": {"previous": None}, "state": "done", "ts": self.t0 - 4},
        ]}

    def zone(self) -> dict[str, Any]:
        return {"version": 1, "ca": None, "hosts": {
            TELEMETRY_HOST: {"world_ip": "203.0.113.10", "ports": {"443": "127.0.0.21:18443"}},
            BYPASS_HOST: {"world_ip": "203.0.113.99", "ports": {"8443": "127.0.0.31:18444"}},
        }}


def build_capture(root: Path, variant: str = "vendor-1.0", **scenario: Any) -> Path:
    """A complete demo-like capture in `root`."""
    write_opts = {k: scenario.pop(k) for k in ("garbled", "torn_tail") if k in scenario}
    builder = CaptureBuilder(root, variant=variant, t0=scenario.pop("t0", 1_790_000_000.0))
    return builder.vendor_scenario(**scenario).write(**write_opts)
