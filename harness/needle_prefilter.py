"""A vectorised prefilter in front of the Aho-Corasick pass for large texts.

pyahocorasick reads some 25-70 MB/s of text; most bytes of a body hold no needle at all.
Any occurrence of a needle at least 2w-1 bytes long contains a whole w-byte word aligned
on a multiple of w, so the text is cut into aligned words (numpy, no copy), each word
is hashed into a bitmap of every w-byte substring of every needle, and the automaton
only reads windows around the words that hit. The answer is the same as a full pass:
the windows cover every possible occurrence, and the automaton confirms each match.
Needles too short for either word width go through a full pass (they rarely exist).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_BITS = 23
_MULT = {8: np.uint64(0x9E3779B97F4A7C15), 4: np.uint32(0x9E3779B1)}
_SHIFT = {8: np.uint64(64 - _BITS), 4: np.uint32(32 - _BITS)}
_DTYPE = {8: np.dtype("<u8"), 4: np.dtype("<u4")}
MIN_SIZE = 64 * 1024  # below this a full automaton pass is cheaper than numpy's setup


class _Tier:
    """Needles of at least 2w-1 bytes, looked for through w-byte aligned words."""

    def __init__(self, width: int, needles: list[bytes]):
        self.width = width
        self.table = np.zeros(1 << _BITS, dtype=np.bool_)
        grams = {
            needle[i : i + width] for needle in needles for i in range(len(needle) - width + 1)
        }
        if grams:
            words = np.frombuffer(b"".join(sorted(grams)), dtype=_DTYPE[width])
            self.table[self._hash(words)] = True

    def _hash(self, words: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((words * _MULT[self.width]) >> _SHIFT[self.width]).astype(np.intp)

    def hits(self, data: bytes) -> np.ndarray:
        """Byte offsets of the aligned words that may belong to a needle."""
        count = len(data) // self.width
        words = np.frombuffer(data, dtype=_DTYPE[self.width], count=count)
        return np.flatnonzero(self.table[self._hash(words)]) * self.width


class Prefilter:
    def __init__(self, needles: Iterable[str]):
        raw = [n.encode("latin-1") for n in needles]
        self.longest = max((len(n) for n in raw), default=0)
        self.full_pass = any(len(n) < 7 for n in raw)  # shorter than any tier handles
        self.tiers = [
            _Tier(8, [n for n in raw if len(n) >= 15]),
            _Tier(4, [n for n in raw if 7 <= len(n) < 15]),
        ]
        self.tiers = [t for t in self.tiers if t.table.any()]

    def windows(self, data: bytes) -> list[tuple[int, int]] | None:
        """Merged [start, end) ranges that hold every possible match, or None when the
        whole text must be read (short text, or needles too short to prefilter)."""
        if self.full_pass or len(data) < MIN_SIZE or not self.tiers:
            return None
        offsets = np.concatenate([tier.hits(data) for tier in self.tiers])
        if offsets.size == 0:
            return []
        offsets.sort()
        reach = self.longest
        starts = np.maximum(offsets - reach, 0)
        ends = np.minimum(offsets + 8 + reach, len(data))
        # merge overlapping windows: a new window starts where the previous ones ended
        running_end = np.maximum.accumulate(ends)
        breaks = np.flatnonzero(starts[1:] > running_end[:-1]) + 1
        first = np.concatenate(([0], breaks))
        last = np.concatenate((breaks - 1, [len(starts) - 1]))
        return list(zip(starts[first].tolist(), running_end[last].tolist(), strict=True))
