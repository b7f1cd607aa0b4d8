"""Sensitive-value scanner: MB/s with 100 canaries in every encoding, cost of a 2 KB flow.

Targets (issue 6): >= 100 MB/s on one core for the needle pass; < 0.2 ms per 2 KB flow.
CPU time (process_time) is measured, so other load on the machine matters less.
"""

from __future__ import annotations

import json
import random
import time

from harness.sensitive.scanner import Scanner, parse_canaries

MB = 1024 * 1024


def canaries(count: int = 100) -> dict:
    rng = random.Random(6)
    identifiers = {
        "imei": "490154203237518", "imsi": "404450123456789", "iccid": "8991101200003204514",
        "phone": "+919876543210", "serial": "R58M12ABCDE", "android_id": "9774d56d682e549c",
        "wifi_mac": "02:1a:11:f0:c3:9e", "bt_mac": "02:1a:11:f0:c3:9f",
        "advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d",
    }
    planted = [
        {"type": "contact", "id": f"contact-{i}", "value": f"CANARY{rng.getrandbits(48):012x}"}
        for i in range(count - len(identifiers))
    ]
    return {"identifiers": identifiers, "planted": planted}


def sample_text(size: int) -> bytes:
    """JSON-lines-like traffic: keys, words, numbers, hex ids, timestamps; no canaries."""
    rng = random.Random(1)
    words = [
        "event", "session", "screen", "click", "device", "model", "locale", "en_IN", "timezone",
        "Asia/Kolkata", "battery", "network", "wifi", "carrier", "version", "build", "sdk",
    ]
    lines = []
    total = 0
    while total < size:
        record = {
            "ts": 1_700_000_000_000 + rng.randrange(10**9),
            "ev": rng.choice(words),
            "id": f"{rng.getrandbits(64):016x}",
            "n": rng.random() * 1000,
            "txt": " ".join(rng.choice(words) for _ in range(8)),
        }
        line = json.dumps(record) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def flow_2kb() -> tuple[str, list[tuple[str, str]], bytes]:
    body = sample_text(2048)
    body = b'{"events": ' + json.dumps(body.decode().splitlines()[:10]).encode() + b"}"
    headers = [
        ("Host", "analytics.example"), ("User-Agent", "okhttp/4.9.3"), ("Accept", "*/*"),
        ("Content-Type", "application/json"), ("Accept-Encoding", "gzip"),
        ("Cookie", "sid=ab12cd34ef56; lang=en"), ("X-Request-Id", "5f1c3a0e-77aa-4c1e-9d1e-0a1b2c3d4e5f"),
        ("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc"), ("Connection", "keep-alive"),
    ]
    return "https://analytics.example/v1/batch?app=com.vendor.x&v=12", headers, body[:2048]


def _cpu(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    started = time.process_time()
    scanner = Scanner(parse_canaries(canaries()))
    built = time.process_time() - started
    print(f"   needles: {scanner.needle_count} from 100 canaries, built in {built * 1000:.0f} ms")

    data = sample_text(32 * MB)
    needles = _cpu(lambda: scanner.scan_needles(data, "body"))
    print(f"   needle pass (Hyperscan): {32 / needles:.0f} MB/s  (target >= 100)")
    full = _cpu(lambda: scanner.scan_text(data, "body"), repeat=1)
    print(f"   full text scan (needles + patterns on first 256 KB + base64 blobs): {32 / full:.0f} MB/s")

    url, headers, body = flow_2kb()
    rounds = 2000

    def flows() -> None:
        for _ in range(rounds):
            scanner.scan_message(url=url, headers=headers, body=body, content_type="application/json")

    per_flow = _cpu(flows) / rounds
    print(f"   2 KB flow (URL, 9 headers, JSON body): {per_flow * 1000:.3f} ms  (target < 0.2)")
