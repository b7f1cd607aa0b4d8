"""The automaton pass finds every occurrence of every needle: checked against a naive
search (bytes.find for each needle) on random bytes with needles planted, overlapping
and at the very ends."""

from __future__ import annotations

import random

import pytest

from harness.encodings import needles_of
from harness.sensitive import Scanner, parse_canaries

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
