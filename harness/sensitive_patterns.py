"""Identifiers recognised by their shape, for values the canaries do not list.

Python's regex engine is fast only from a literal, so each pattern is found from an
anchor ('@', '+', a separator pair, a run of digits, a key name) and checked around it:
IMEI (15 digits, a common reporting body, Luhn), ICCID (89..., Luhn), MAC (six pairs),
e-mail, phone (+ and 10-14 digits), and by key name IMSI, Android ID, advertising ID.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_EMAIL_DOMAIN = re.compile(rb"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
_EMAIL_LOCAL = re.compile(rb"[A-Za-z0-9._%+-]{1,64}$")
_PHONE = re.compile(rb"\+[1-9]\d{9,13}")
_MAC_ANCHOR = re.compile(rb"([:-])[0-9A-Fa-f]{2}\1")
_MAC = re.compile(rb"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")
_LONG_RUN = re.compile(rb"0{15,}")
_FIFTEEN = b"0" * 15
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_KEYS = (b"imsi", b"subscriberid", b"subscriber_id", b"android_id", b"androidid", b"ssaid",
         b"advertising_id", b"advertisingid", b"adid", b"ad_id", b"gaid", b"idfa")
_KEY_VALUE = re.compile(rb"[\"']?\s*[:=]\s*[\"']?([0-9A-Za-z-]{8,40})")
_UUID = re.compile(rb"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX16 = re.compile(rb"^[0-9a-fA-F]{16}$")
DECIMAL_TAIL = re.compile(rb"\.\d{3,}")
DECIMAL_HEAD = re.compile(rb"-?\d{1,3}$")
_HEXCHARS = frozenset(b"0123456789abcdefABCDEF")
# GSMA reporting bodies that issue most TACs (first two IMEI digits).
_IMEI_BODIES = frozenset({"01", "35", "86", "99", "33", "44", "45", "49", "50", "51", "52", "53", "54", "91", "98"})


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def pattern_findings(data: bytes, known: frozenset[bytes]) -> Iterator[tuple[str, int, bytes]]:
    """(type, offset, matched) for identifiers recognised by shape; the caller drops
    values in `known` (the canaries' own forms, reported by the needles)."""
    if b"@" in data:
        for m in _EMAIL_DOMAIN.finditer(data):
            local = _EMAIL_LOCAL.search(data, max(0, m.start() - 64), m.start())
            if local:
                yield "email", local.start(), data[local.start() : m.end()]
    if b"+" in data:
        for m in _PHONE.finditer(data):
            before = data[m.start() - 1 : m.start()]
            after = data[m.end() : m.end() + 1]
            if not (before.isalnum() or before in (b"_", b"+")) and not after.isdigit():
                yield "phone", m.start(), m.group()
    yield from _macs(data)
    yield from _digit_runs(data)
    yield from _keyed(data)


def _macs(data: bytes) -> Iterator[tuple[str, int, bytes]]:
    seen = -1
    for anchor in _MAC_ANCHOR.finditer(data):
        # the anchor is any separator pair of the MAC: try each start it could belong to
        for start in range(anchor.start() - 14, anchor.start() + 1, 3):
            if start <= seen or start < 0:
                continue
            m = _MAC.match(data, start)
            if not m:
                continue
            before = data[start - 1] if start else None
            after = data[m.end()] if m.end() < len(data) else None
            if before in _HEXCHARS or before in (58, 45) or after in _HEXCHARS or after in (58, 45):
                continue
            flat = m.group().lower().replace(b":", b"").replace(b"-", b"")
            if flat not in (b"000000000000", b"ffffffffffff"):
                seen = start
                yield "mac", start, m.group()


def _digit_runs(data: bytes) -> Iterator[tuple[str, int, bytes]]:
    digits = data.translate(_DIGIT_MAP)
    position = digits.find(_FIFTEEN)
    while position != -1:
        m = _LONG_RUN.match(digits, position)
        assert m is not None
        end = m.end()
        run = data[position:end].decode()
        beside = (data[position - 1 : position], data[end : end + 1])
        if b"." not in beside:  # a decimal fraction is not an identifier
            if len(run) == 15 and run[:2] in _IMEI_BODIES and len(set(run)) > 2 and luhn_ok(run):
                yield "imei", position, data[position:end]
            elif 18 <= len(run) <= 20 and run.startswith("89") and luhn_ok(run):
                yield "iccid", position, data[position:end]
        position = digits.find(_FIFTEEN, end)


def _keyed(data: bytes) -> Iterator[tuple[str, int, bytes]]:
    lower = data.lower()
    for key in _KEYS:
        position = lower.find(key)
        while position != -1:
            m = _KEY_VALUE.match(data, position + len(key))
            if m:
                kind = _keyed_kind(key.replace(b"_", b""), m.group(1))
                if kind:
                    yield kind, m.start(1), m.group(1)
            position = lower.find(key, position + len(key))


def _keyed_kind(key: bytes, value: bytes) -> str | None:
    if key in (b"imsi", b"subscriberid") and value.isdigit() and len(value) in (14, 15):
        return "imsi"
    if key in (b"androidid", b"ssaid") and _HEX16.match(value):
        return "android_id"
    if key in (b"adid", b"advertisingid", b"gaid", b"idfa") and _UUID.match(value):
        return "advertising_id"
    return None
