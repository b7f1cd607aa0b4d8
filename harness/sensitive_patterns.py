"""Identifiers recognised by their shape, for values the canaries do not list.

Python's regex engine is fast only from a literal, so each pattern is found from an
anchor ('@', '+', a separator pair, a run of digits, a key name) and checked around it:
IMEI (15 digits, a common reporting body, Luhn), ICCID (89..., Luhn), MAC (six pairs),
e-mail, phone (+ and 10-14 digits), and by key name IMSI, Android ID, advertising ID.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import ahocorasick_rs

_EMAIL_DOMAIN = re.compile(rb"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
_EMAIL_LOCAL = re.compile(rb"[A-Za-z0-9._%+-]{1,64}$")
_PHONE = re.compile(rb"\+[1-9]\d{9,13}")
# hex digits -> "h", the separators stay, anything else " ": a MAC is a fixed shape
_MAC_SHAPE = bytes(0x68 if chr(b) in "0123456789abcdefABCDEF" else b if b in b":-" else 0x20 for b in range(256))
_MAC_SHAPES = (b":".join([b"hh"] * 6), b"-".join([b"hh"] * 6))
_MAC_EDGES = (b"h", b":", b"-")
_FIFTEEN_RUN = b" " + b"0" * 15 + b" "
_ICCID = re.compile(rb"89\d{16,18}")  # a literal prefix: Python's re finds it at C speed
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_KEYS = (b"imsi", b"subscriberid", b"subscriber_id", b"android_id", b"androidid", b"ssaid",
         b"advertising_id", b"advertisingid", b"adid", b"ad_id", b"gaid", b"idfa")
_KEY_FINDER = ahocorasick_rs.BytesAhoCorasick(list(_KEYS))  # immutable once built
_KEY_VALUE = re.compile(rb"[\"']?\s*[:=]\s*[\"']?([0-9A-Za-z-]{8,40})")
_UUID = re.compile(rb"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX16 = re.compile(rb"^[0-9a-fA-F]{16}$")
DECIMAL_TAIL = re.compile(rb"\.\d{3,}")
DECIMAL_HEAD = re.compile(rb"-?\d{1,3}$")
# GSMA reporting bodies that issue most TACs (first two IMEI digits).
IMEI_BODIES = frozenset({b"01", b"35", b"86", b"99", b"33", b"44", b"45", b"49", b"50", b"51", b"52", b"53", b"54",
                          b"91", b"98"})


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
    """Six hex pairs joined by one separator, with no hex digit or separator either side."""
    if b":" not in data and b"-" not in data:
        return
    shape = data.translate(_MAC_SHAPE)
    found = []
    for pattern in _MAC_SHAPES:
        start = shape.find(pattern)
        while start != -1:
            end = start + len(pattern)
            if shape[start - 1 : start] not in _MAC_EDGES and shape[end : end + 1] not in _MAC_EDGES:
                value = data[start:end]
                if value.lower().translate(None, b":-") not in (b"000000000000", b"ffffffffffff"):
                    found.append(("mac", start, value))
            start = shape.find(pattern, start + 1)
    found.sort(key=lambda item: item[1])
    yield from found


def _digit_runs(data: bytes) -> Iterator[tuple[str, int, bytes]]:
    """IMEI (15 digits) and ICCID (18-20, 89...) among runs of digits, Luhn-checked.

    Found at C speed, so that runs of other lengths (timestamps, 16-digit ids) cost
    nothing in Python: a run of exactly 15 digits with `bytes.find` in the text mapped
    to digits and spaces, an ICCID from its literal prefix `89`."""
    if len(data) < 15:
        return
    found = []
    digits = b" " + data.translate(_DIGIT_MAP) + b" "  # padded index i is data index i - 1
    at = digits.find(_FIFTEEN_RUN)
    while at != -1:  # data[at : at + 15] is a run of exactly 15 digits
        if data[at : at + 2] in IMEI_BODIES and _no_dot_beside(data, at, at + 15):
            run = data[at : at + 15]
            if len(set(run)) > 2 and luhn_ok(run.decode()):
                found.append(("imei", at, run))
        at = digits.find(_FIFTEEN_RUN, at + 16)
    for m in _ICCID.finditer(data):
        start, end = m.span()
        if not data[start - 1 : start].isdigit() and not data[end : end + 1].isdigit() and _no_dot_beside(data, start, end):
            if luhn_ok(m.group().decode()):
                found.append(("iccid", start, m.group()))
    found.sort(key=lambda item: item[1])
    yield from found


def _no_dot_beside(data: bytes, start: int, end: int) -> bool:
    """A decimal fraction (a dot beside the digits) is not an identifier."""
    return b"." not in (data[start - 1 : start] if start else b"", data[end : end + 1])


def _keyed(data: bytes) -> Iterator[tuple[str, int, bytes]]:
    for _, start, end in _KEY_FINDER.find_matches_as_indexes(data.lower(), overlapping=True):
        m = _KEY_VALUE.match(data, end)
        if m:
            kind = _keyed_kind(data[start:end].lower().replace(b"_", b""), m.group(1))
            if kind:
                yield kind, m.start(1), m.group(1)


def _keyed_kind(key: bytes, value: bytes) -> str | None:
    if key in (b"imsi", b"subscriberid") and value.isdigit() and len(value) in (14, 15):
        return "imsi"
    if key in (b"androidid", b"ssaid") and _HEX16.match(value):
        return "android_id"
    if key in (b"adid", b"advertisingid", b"gaid", b"idfa") and _UUID.match(value):
        return "advertising_id"
    return None
