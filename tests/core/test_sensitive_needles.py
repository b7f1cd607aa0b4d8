"""The automaton pass finds every occurrence of every needle: checked against a naive
search (bytes.find for each needle) on random bytes with needles planted, overlapping
and at the very ends; likewise the digit-run finder against the plain rule."""

from __future__ import annotations

import random
import re

import pytest

from harness.encodings import needles_of
from harness.sensitive import Scanner, parse_canaries
from harness.sensitive_patterns import IMEI_BODIES, _digit_runs, luhn_ok

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


def _naive(data: bytes) -> set[tuple[str, str, int]]:
    found = set()
    for canary_id, encoding, needle in _needle_table():
        at = data.find(needle)
        while at != -1:
            found.add((canary_id, encoding, at))
            at = data.find(needle, at + 1)
    return found


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
    found = list(_digit_runs(data))
    assert found == _naive_digit_runs(data)
    assert {kind for kind, _, _ in found} == {"imei", "iccid"}


@pytest.mark.parametrize(
    "data",
    [b"356938035643809", b"8991101200003204514", b"x356938035643809", b"8991101200003204514x"],
)
def test_digit_runs_at_the_very_ends(data: bytes) -> None:
    assert list(_digit_runs(data)) == _naive_digit_runs(data) != []
