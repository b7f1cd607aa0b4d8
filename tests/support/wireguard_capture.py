"""WireGuard-mode captures for the tunnel cross-check's tests: run.json's proxy says
`mode: wireguard`, the apps connect to the servers' own addresses through the tunnel, and
the proxy records a flow for each connection (http, udp, dns, raw tcp)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.capture.manifest import write_manifest
from support.capture_builder import CaptureBuilder, _geo

WG_PROXY = {"mode": "wireguard", "listen_host": "127.0.0.1", "port": 51820, "network": "contained",
            "block_quic": False,
            "wireguard": {"endpoint": "127.0.0.1:51820", "server_public_key": "s", "client_public_key": "c",
                          "client_addresses": ["10.0.0.1", "fdc8:7f9a:d6b1::1"]}}
SG = _geo("SG", "Example Beacon Cloud", "CN")
US = _geo("US", "Example Cloud", "US")
HANDSET = "10.0.0.1"  # the handset's address in the tunnel


def wireguard(b: CaptureBuilder) -> CaptureBuilder:
    """The flows and hooks of a WireGuard-mode run: apps connect to the servers' own
    addresses through the tunnel, and the proxy records each connection."""
    b.connect("com.vendor.adsdk", None, "8.209.64.20", 443, at=40, api="libc.connect")
    b.connect("com.vendor.adsdk", "8.209.64.20", "8.209.64.20", 443, at=40.002)  # the Java hook's echo
    b.flow("beacon.adsdk.example", at=40.05, server_ip="8.209.64.20", geo=SG, client_ip=HANDSET)
    b.connect("com.vendor.adsdk", None, "8.209.64.20", 9999, at=41, api="libc.connect")  # UDP beacon
    b.flow("beacon.adsdk.example", at=41.01, server_ip="8.209.64.20", port=9999, kind="udp", geo=SG,
           client_ip=HANDSET)
    b.connect("com.vendor.adsdk", None, "10.0.0.53", 53, at=39.9, api="libc.connect")  # the tunnel's DNS
    b.flow("beacon.adsdk.example", at=39.91, server_ip="10.0.0.53", port=53, kind="dns", geo=US,
           client_ip=HANDSET)
    # the app names the host; the proxy's flow went to another address of it (a CDN answer)
    b.connect("com.vendor.weather", "api.weather.example", "203.0.113.80", 443, at=50)
    b.flow("api.weather.example", at=51.5, server_ip="203.0.113.81", geo=US, client_ip=HANDSET)
    # a raw TCP push: the app was given .41 for push.example (Frida's net:resolve), the proxy's
    # flow to push.example went to .40: the same name on the same port, seconds apart
    b.hooks.append({"type": "net:resolve", "ts": b.t0 + 59.9, "device": b.serial, "package": "com.vendor.push",
                    "api": "libc.getaddrinfo", "category": "network", "value": "47.88.1.41", "host": "push.example",
                    "ip": "47.88.1.41", "port": None, "stack": []})
    b.connect("com.vendor.push", None, "47.88.1.41", 5222, at=60, api="libc.connect")
    b.flow("push.example", at=60.1, server_ip="47.88.1.40", port=5222, kind="tcp", geo=US, client_ip=HANDSET)
    # nothing leaves the handset: loopback, its own tunnel address, a UDP socket connected to port 0
    b.connect("com.vendor.adsdk", None, "127.0.0.1", 8080, at=70, api="libc.connect")
    b.connect("com.vendor.adsdk", None, HANDSET, 7000, at=71, api="libc.connect")
    b.connect("com.vendor.adsdk", None, "8.209.64.20", 0, at=72, api="libc.connect")
    return b


def write_wireguard(b: CaptureBuilder) -> Path:
    b.write()
    run = json.loads((b.root / "run.json").read_text())
    write_manifest(b.root, {**run, "proxy": WG_PROXY})
    return b.root
