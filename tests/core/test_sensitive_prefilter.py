"""The numpy prefilter in front of the automaton finds exactly what a full pass finds."""

from __future__ import annotations

import random

import pytest

from harness.needle_prefilter import MIN_SIZE, Prefilter
from harness.sensitive import Scanner, parse_canaries

CANARIES = {
    "identifiers": {"imei": "490154203237518", "wifi_mac": "02:1a:11:f0:c3:9e", "phone": "+919876543210"},
    "planted": [{"type": "contact", "id": f"c{i}", "value": f"CANARY{i:04d}xq"} for i in range(20)],
}


@pytest.mark.parametrize("seed", range(5))
def test_prefiltered_pass_equals_full_pass(seed: int) -> None:
    scanner = Scanner(parse_canaries(CANARIES))
    rng = random.Random(seed)
    needles = list(scanner._automaton.keys())
    data = bytearray(rng.randbytes(MIN_SIZE * 4))
    for _ in range(50):
        needle = rng.choice(needles).encode("latin-1")
        at = rng.randrange(len(data) - len(needle))
        data[at : at + len(needle)] = needle
    data = bytes(data)
    text = data.decode("latin-1")
    full = sorted((end - length + 1, needles_) for end, (length, needles_) in scanner._automaton.iter(text))
    fast = scanner.scan_needles(data, "body")
    assert scanner._prefilter is not None and scanner._prefilter.windows(data) is not None
    assert sorted({f.offset for f in fast}) == sorted({offset for offset, _ in full})
    assert len(fast) == sum(len(n) for _, n in full)


def test_needles_at_the_very_ends_are_found() -> None:
    scanner = Scanner(parse_canaries(CANARIES))
    data = b"490154203237518" + b"\0" * MIN_SIZE + b"CANARY0007xq"
    offsets = {(f.id, f.offset) for f in scanner.scan_needles(data, "body")}
    assert ("imei", 0) in offsets and ("c7", len(data) - 12) in offsets


def test_short_needles_force_a_full_pass() -> None:
    assert Prefilter(["abcde"]).windows(b"x" * MIN_SIZE * 2) is None
    assert Prefilter(["a" * 20]).windows(b"x" * MIN_SIZE * 2) == []


def test_dense_candidates_fall_back_to_a_full_pass() -> None:
    prefilter = Prefilter(["0000000000000000xyz"])
    assert prefilter.windows(b"0" * MIN_SIZE * 2) is None
