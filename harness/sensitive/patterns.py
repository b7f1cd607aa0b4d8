"""Identifiers recognised by their shape, for values the canaries do not list.

Python's regex engine is fast only from a literal, so e-mail addresses and phone numbers
are found from their anchor ('@', '+') and checked around it. The other shapes are found
in one Hyperscan pass (`harness.sensitive.multimatch`), each at most once where it ends: a MAC
(six hex pairs, one separator, nothing hex beside), a whole run of digits that may be an
IMEI (15 from a common reporting body) or an ICCID (18-20 from 89), then Luhn-checked,
and a key name (IMSI, Android ID, advertising ID) whose value is checked after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from harness.sensitive.multimatch import CASELESS, Matcher, escaped

_EMAIL_DOMAIN = re.compile(rb"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
_EMAIL_LOCAL = re.compile(rb"[A-Za-z0-9._%+-]{1,64}$")
_PHONE = re.compile(rb"\+[1-9]\d{9,13}")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"
_KEYS = (b"imsi", b"subscriberid", b"subscriber_id", b"android_id", b"androidid", b"ssaid",
         b"advertising_id", b"advertisingid", b"adid", b"ad_id", b"gaid", b"idfa")
# GSMA reporting bodies that issue most TACs (first two IMEI digits).
IMEI_BODIES = frozenset({b"01", b"35", b"86", b"99", b"33", b"44", b"45", b"49", b"50", b"51", b"52", b"53", b"54",
                          b"91", b"98"})
_MAC, _MAC_DASH, _IMEI, _ICCID, _FIRST_KEY = range(5)
# Each shape with its boundaries, so that a MAC or a run of digits matches once (at its
# end, the boundary character included unless the text ends there), never once per byte;
# only runs of digits that may be an IMEI or ICCID reach Python (not timestamps, not ids).
_SHAPES = Matcher(
    [
        rb"(?:\A|[^0-9a-fA-F:-])[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}(?:[^0-9a-fA-F:-]|\z)",
        rb"(?:\A|[^0-9a-fA-F:-])[0-9a-fA-F]{2}(?:-[0-9a-fA-F]{2}){5}(?:[^0-9a-fA-F:-]|\z)",
        rb"(?:\A|[^0-9])(?:" + b"|".join(sorted(IMEI_BODIES)) + rb")[0-9]{13}(?:[^0-9]|\z)",
        rb"(?:\A|[^0-9])89[0-9]{16,18}(?:[^0-9]|\z)",
        *(escaped(key) for key in _KEYS),
    ],
    flags=[0, 0, 0, 0] + [CASELESS] * len(_KEYS),
)  # compiled once, immutable; each thread scans with its own scratch
_KEY_VALUE = re.compile(rb"[\"']?\s*[:=]\s*[\"']?([0-9A-Za-z-]{8,40})")
_UUID = re.compile(rb"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX16 = re.compile(rb"^[0-9a-fA-F]{16}$")
DECIMAL_TAIL = re.compile(rb"\.\d{3,}")
DECIMAL_HEAD = re.compile(rb"-?\d{1,3}$")


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
    macs, runs, keys = [], [], []
    for index, end in _SHAPES.ends(data):
        if index >= _FIRST_KEY:
            keys.append((index, end))
        elif index >= _IMEI:
            runs.append((index, end))
        else:
            macs.append(end)
    yield from _macs(data, macs)
    yield from _digit_runs(data, runs)
    yield from _keyed(data, keys)


def _shape_end(data: bytes, end: int, inside: bytes) -> int:
    """Where a shape ends: a match takes the boundary character after it, if any."""
    return end if data[end - 1] in inside else end - 1


def _macs(data: bytes, ends: list[int]) -> Iterator[tuple[str, int, bytes]]:
    """Six hex pairs joined by one separator, with no hex digit or separator either side."""
    for matched_end in ends:
        end = _shape_end(data, matched_end, _HEX_DIGITS)
        value = data[end - 17 : end]
        if value.lower().translate(None, b":-") not in (b"000000000000", b"ffffffffffff"):
            yield "mac", end - 17, value


def _digit_runs(data: bytes, runs: list[tuple[int, int]]) -> Iterator[tuple[str, int, bytes]]:
    """IMEI (15 digits from a common reporting body) and ICCID (18-20 from 89), both
    maximal runs of digits with no dot beside, Luhn-checked."""
    for index, matched_end in runs:
        end = _shape_end(data, matched_end, _DIGITS)
        tail = data[max(0, end - 21) : end]
        start = end - (len(tail) - len(tail.rstrip(_DIGITS)))  # the whole run: 15 to 20 digits
        run = data[start:end]
        if _no_dot_beside(data, start, end) and luhn_ok(run.decode()):
            if index == _ICCID:
                yield "iccid", start, run
            elif len(set(run)) > 2:
                yield "imei", start, run


def _no_dot_beside(data: bytes, start: int, end: int) -> bool:
    """A decimal fraction (a dot beside the digits) is not an identifier."""
    return b"." not in (data[start - 1 : start] if start else b"", data[end : end + 1])


def _keyed(data: bytes, keys: list[tuple[int, int]]) -> Iterator[tuple[str, int, bytes]]:
    for index, end in keys:
        m = _KEY_VALUE.match(data, end)
        if m:
            kind = _keyed_kind(_KEYS[index - _FIRST_KEY].replace(b"_", b""), m.group(1))
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
