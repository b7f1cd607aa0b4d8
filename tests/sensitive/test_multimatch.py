"""The Hyperscan matcher: literals of any bytes, matches in order of their end, and
scans from many threads at once (each with its own scratch space)."""

from __future__ import annotations

import random
import threading

import pytest

from harness.sensitive.multimatch import CASELESS, Matcher, MatcherError, escaped


@pytest.mark.parametrize(
    "literal",
    [b"a\x00b", b"\x00", b".*+?()[]{}|^$\\", b"caf\xe9\xff", b"-_/=%", b"CANARY0001xq"],
)
def test_an_escaped_literal_matches_exactly_its_bytes(literal: bytes) -> None:
    matcher = Matcher([escaped(literal)])
    data = b"xx" + literal + b"yy" + literal
    ends = [end for _, end in matcher.ends(data)]
    assert ends == [2 + len(literal), len(data)]
    assert matcher.ends(b"xx" + literal[:-1] + b"#yy") == []  # its last byte off: no match


def test_matches_come_in_order_of_their_end_with_their_expression() -> None:
    matcher = Matcher([escaped(b"abc"), escaped(b"bcd"), b"[0-9]{3}"], flags=[0, 0, 0])
    assert matcher.ends(b"abcd 12345") == [(0, 3), (1, 4), (2, 8), (2, 9), (2, 10)]


def test_caseless_flag_and_empty_text() -> None:
    matcher = Matcher([escaped(b"imsi")], flags=[CASELESS])
    assert matcher.ends(b"IMSI ImSi imsi") == [(0, 4), (0, 9), (0, 14)]
    assert matcher.ends(b"") == []


@pytest.mark.parametrize("expressions", [[], [b"(unclosed"], [b"a{2,1}"]])
def test_expressions_it_cannot_compile_are_an_error(expressions: list[bytes]) -> None:
    with pytest.raises(MatcherError):
        Matcher(expressions)


def test_threads_scanning_at_once_each_get_every_match() -> None:
    """Hyperscan refuses a scratch space already in use (and the GIL is released during a
    scan): one shared scratch would fail or mix matches up here."""
    needles = [f"NEEDLE{i:03d}".encode() for i in range(200)]
    matcher = Matcher([escaped(needle) for needle in needles])
    rng = random.Random(7)
    texts = []
    for _ in range(8):
        data = bytearray(rng.randbytes(2_000_000))
        for _ in range(50):
            needle = rng.choice(needles)
            at = rng.randrange(len(data) - len(needle))
            data[at : at + len(needle)] = needle
        texts.append(bytes(data))
    expected = [matcher.ends(text) for text in texts]
    assert all(len(found) >= 40 for found in expected)
    results: dict[int, list[list[tuple[int, int]]]] = {}
    errors: list[BaseException] = []

    def scan(worker: int) -> None:
        try:
            results[worker] = [matcher.ends(text) for text in texts for _ in range(3)][::3]
        except Exception as e:  # noqa: BLE001 - handed to the main thread's assert
            errors.append(e)

    threads = [threading.Thread(target=scan, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(results[worker] == expected for worker in range(4))
