"""The needle pass finds every occurrence of every needle: checked against a naive
search (bytes.find for each needle) on random bytes with needles planted, overlapping
and at the very ends; likewise the shapes found in one pass (digit runs, MACs, key
names, base64 runs) against their plain rules on random text."""

from __future__ import annotations

import random
import re

import pytest

from harness.sensitive.body_decode import _b64_runs
from harness.sensitive.encodings import needles_of
from harness.sensitive.patterns import IMEI_BODIES, luhn_ok, pattern_findings
from harness.sensitive.scanner import Scanner, parse_canaries

CANARIES = {
    "identifiers": {"imei": "490154203237518", "wifi_mac": "02:1a:11:f0:c3:9e", "phone": "+919876543210"},
    "planted": [{"type": "contact", "id": f"c{i}", "value": f"CANARY{i:04d}xq"} for i in range(20)],
}


def _needle_table() -> list[tuple[str, str, bytes]]:
    canaries = parse_canaries(CANARIES)
    return [
        (canary.id, encoding, text.encode("latin-1"))
        for canary in canaries.values
        for encoding, text in needles_of(canary.type, canary.value)
    ]


_B64_CHAR = re.compile(rb"[A-Za-z0-9+/_-]")


def _alphabet(data: bytes, start: int, end: int) -> str:
    """base64 is named by the run of base64 characters it is in: URL-safe if it has - or _."""
    while start > 0 and _B64_CHAR.match(data, start - 1):
        start -= 1
    while end < len(data) and _B64_CHAR.match(data, end):
        end += 1
    run = data[start:end]
    return "base64url" if b"-" in run or b"_" in run else "base64"


def _naive(data: bytes) -> set[tuple[str, str, int]]:
    """Every occurrence of every needle, but those inside a longer occurrence of the same
    value (the digits of +919876543210 are that number, not a second one)."""
    spans = []
    for canary_id, encoding, needle in _needle_table():
        at = data.find(needle)
        while at != -1:
            if encoding in ("base64", "base64url"):
                encoding = _alphabet(data, at, at + len(needle))
            spans.append((canary_id, encoding, at, at + len(needle)))
            at = data.find(needle, at + 1)
    return {
        (cid, encoding, start)
        for cid, encoding, start, end in spans
        if not any(other == cid and s <= start and end <= e and e - s > end - start for other, _, s, e in spans)
    }


@pytest.mark.parametrize(("seed", "size"), [(0, 2048), (1, 64 * 1024), (2, 1 << 20), (3, 300)])
def test_automaton_finds_what_a_naive_search_finds(seed: int, size: int) -> None:
    scanner = Scanner(parse_canaries(CANARIES), patterns=False)
    rng = random.Random(seed)
    table = _needle_table()
    data = bytearray(rng.randbytes(size))
    for _ in range(40):
        _, _, needle = rng.choice(table)
        at = rng.randrange(len(data) - len(needle))
        data[at : at + len(needle)] = needle
    data = bytes(data)
    expected = _naive(data)
    found = {(f.id, f.encoding, f.offset) for f in scanner.scan_needles(data, "body")}
    assert found == expected
    assert len(expected) >= min(15, size // 100)  # planted over one another, plenty remain


def test_overlapping_needles_and_the_very_ends() -> None:
    scanner = Scanner(parse_canaries(CANARIES), patterns=False)
    # the IMEI at offset 0, a contact at the very end, and two contacts sharing bytes
    data = b"490154203237518" + b"\0" * 1000 + b"CANARY0001xqCANARY0002xq" + b"CANARY0007xq"
    found = {(f.id, f.offset) for f in scanner.scan_needles(data, "body")}
    assert {("imei", 0), ("c1", 1015), ("c2", 1027), ("c7", len(data) - 12)} <= found
    assert found == {(cid, at) for cid, _, at in _naive(data)}


# -- IMEI and ICCID among runs of digits ------------------------------------------------


def _naive_digit_runs(data: bytes) -> list[tuple[str, int, bytes]]:
    """The rule read plainly: every maximal run of digits, no dot beside it; 15 digits with
    a common reporting body and Luhn is an IMEI, 18-20 starting 89 with Luhn an ICCID."""
    found = []
    for m in re.finditer(rb"\d+", data):
        run, start, end = m.group(), m.start(), m.end()
        if b"." in (data[start - 1 : start], data[end : end + 1]):
            continue
        if len(run) == 15 and run[:2] in IMEI_BODIES and len(set(run)) > 2 and luhn_ok(run.decode()):
            found.append(("imei", start, run))
        elif 18 <= len(run) <= 20 and run.startswith(b"89") and luhn_ok(run.decode()):
            found.append(("iccid", start, run))
    return found


def _digit_runs(data: bytes) -> list[tuple[str, int, bytes]]:
    return [found for found in pattern_findings(data, frozenset()) if found[0] in ("imei", "iccid")]


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> bytes:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next((body + d).encode() for d in "0123456789" if luhn_ok(body + d))


@pytest.mark.parametrize("seed", range(6))
def test_digit_runs_match_the_plain_rule(seed: int) -> None:
    rng = random.Random(seed)
    pieces = [b"", b" ", b".", b"x", b"\"", b"0", b"12", b":", b"-"]
    data = b""
    for _ in range(400):
        kind = rng.randrange(4)
        if kind == 0:  # an IMEI or ICCID shape (valid Luhn), sometimes a digit too long
            length = rng.choice((15, 15, 18, 19, 20, 21))
            prefix = "89" if length >= 18 else rng.choice(["35", "86", "49", "00"])
            data += _luhn_complete(rng, prefix, length)
        elif kind == 1:  # a timestamp, a 16-digit id
            data += str(rng.randrange(10 ** rng.choice((13, 16, 17)))).encode()
        else:
            data += rng.choice(pieces)
    data += b" 356938035643809 8991101200003204514"  # one of each, whatever the draw glued together
    found = _digit_runs(data)
    assert found == _naive_digit_runs(data)
    assert {kind for kind, _, _ in found} == {"imei", "iccid"}


@pytest.mark.parametrize(
    "data",
    [b"356938035643809", b"8991101200003204514", b"x356938035643809", b"8991101200003204514x"],
)
def test_digit_runs_at_the_very_ends(data: bytes) -> None:
    assert _digit_runs(data) == _naive_digit_runs(data) != []


# -- MACs, key names, base64 runs --------------------------------------------------------

_HEX = b"0123456789abcdefABCDEF"
_KEY_NAMES = ("imsi", "subscriberid", "subscriber_id", "android_id", "androidid", "ssaid",
              "advertising_id", "advertisingid", "adid", "ad_id", "gaid", "idfa")


def _naive_macs(data: bytes) -> list[tuple[str, int, bytes]]:
    found = []
    for sep in (b":", b"-"):
        for m in re.finditer(rb"(?=([0-9a-fA-F]{2}(?:" + re.escape(sep) + rb"[0-9a-fA-F]{2}){5}))", data):
            start, end = m.span(1)
            edges = data[start - 1 : start] + data[end : end + 1]
            value = m.group(1)
            digits = value.lower().replace(sep, b"")
            if not any(byte in _HEX + b":-" for byte in edges) and digits not in (b"0" * 12, b"f" * 12):
                found.append(("mac", start, value))
    return sorted(found, key=lambda item: item[1])


def _naive_keyed(data: bytes) -> list[tuple[str, int, bytes]]:
    found = []
    lower = data.lower()
    for key in _KEY_NAMES:
        at = lower.find(key.encode())
        while at != -1:
            m = re.compile(rb"[\"']?\s*[:=]\s*[\"']?([0-9A-Za-z-]{8,40})").match(data, at + len(key))
            name, value = key.replace("_", ""), m.group(1) if m else b""
            if m and name in ("imsi", "subscriberid") and value.isdigit() and len(value) in (14, 15):
                found.append((at + len(key), "imsi", m.start(1), value))
            elif m and name in ("androidid", "ssaid") and re.fullmatch(rb"[0-9a-fA-F]{16}", value):
                found.append((at + len(key), "android_id", m.start(1), value))
            elif m and name in ("adid", "advertisingid", "gaid", "idfa") and re.fullmatch(
                    rb"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", value):
                found.append((at + len(key), "advertising_id", m.start(1), value))
            at = lower.find(key.encode(), at + 1)
    return [item[1:] for item in sorted(found, key=lambda item: item[0])]


def _shape_text(rng: random.Random) -> bytes:
    def hex_pairs(count: int, sep: str) -> str:
        return sep.join(f"{rng.randrange(256):02{rng.choice('xX')}}" for _ in range(count))

    pieces = [b"", b" ", b":", b"-", b"=", b"a", b"\"", b"/", b"0", b".", b"\n"]
    out = []
    for _ in range(300):
        kind = rng.randrange(7)
        if kind == 0:
            out.append(hex_pairs(rng.choice((5, 6, 6, 7)), rng.choice(":-")).encode())
        elif kind == 1:
            key = rng.choice(_KEY_NAMES)
            key = "".join(c.upper() if rng.random() < 0.3 else c for c in key)
            value = rng.choice([str(rng.randrange(10**14, 10**15)), f"{rng.randrange(16**16):016x}",
                                "-".join(f"{rng.randrange(16**n):0{n}x}" for n in (8, 4, 4, 4, 12)), "short"])
            separator = rng.choice(["=", ":", '": "', " = "])
            out.append(f"{key}{separator}{value}".encode())
        elif kind == 2:
            out.append(bytes(rng.choice(b"ABCxyz0189+/_-") for _ in range(rng.randint(18, 40))))
        else:
            out.append(rng.choice(pieces))
    # one of each, whatever the draw glued together
    return b"".join(out) + (b" 3c:5a:b4:01:02:03 FF:ff:FF:ff:FF:ff 00-00-00-00-00-00 imsi=404450123456789 "
                            b"android_id=9774d56d682e549c "
                            b"adid=38400000-8cf0-11bd-b23e-10b96e40000d " + b"QUJD" * 8 + b"==")


@pytest.mark.parametrize("seed", range(6))
def test_macs_and_key_names_match_their_plain_rules(seed: int) -> None:
    data = _shape_text(random.Random(seed))
    found = list(pattern_findings(data, frozenset()))
    assert [f for f in found if f[0] == "mac"] == _naive_macs(data) != []
    keyed = [f for f in found if f[0] in ("imsi", "android_id", "advertising_id")]
    assert keyed == _naive_keyed(data)
    assert {kind for kind, _, _ in keyed} == {"imsi", "android_id", "advertising_id"}


@pytest.mark.parametrize("seed", range(6))
def test_base64_runs_match_the_plain_rule(seed: int) -> None:
    data = _shape_text(random.Random(seed))
    for text in (data, data.strip(b" "), b"QUJD" * 6, b"x" + b"QUJD" * 6 + b"=", b"QUJD" * 5 + b"QUJ"):
        plain = [m.span() for m in re.finditer(rb"[A-Za-z0-9+/_-]{24,}={0,2}", text)]
        assert _b64_runs(text) == plain
    assert len(_b64_runs(data)) >= 5


@pytest.mark.parametrize("data", [b"3c:5a:b4:01:02:03", b"x3c-5a-b4-01-02-03", b"3C:5A:B4:01:02:03 "])
def test_macs_at_the_very_ends(data: bytes) -> None:
    assert [f for f in pattern_findings(data, frozenset()) if f[0] == "mac"] == _naive_macs(data) != []
