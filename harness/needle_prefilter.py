"""A vectorised prefilter in front of the Aho-Corasick pass for large texts.

pyahocorasick reads some 25-70 MB/s of text; most bytes of a body hold no needle at all.
Any occurrence of a needle at least w+s-1 bytes long contains a whole w-byte word
starting at a multiple of s, so the text is read as such words (numpy, no copy; 8-byte
words every 8 or every 4 bytes, 4-byte words every 4, by needle length), each word is
hashed into a bitmap of every w-byte substring of the needles of its tier, and the
automaton only reads windows around the words that hit. The answer is the same as a full pass:
the windows cover every possible occurrence, and the automaton confirms each match.
Needles too short for either word width go through a full pass (they rarely exist).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_BITS = 23
_SMALL_BITS = 17
_MULT = {8: np.uint64(0x9E3779B97F4A7C15), 4: np.uint32(0x9E3779B1)}
_SHIFT = {8: np.uint64(64 - _BITS), 4: np.uint32(32 - _BITS)}
_DTYPE = {8: np.dtype("<u8"), 4: np.dtype("<u4")}
MIN_SIZE = 64 * 1024  # below this a full automaton pass is cheaper than numpy's setup
DENSE = 512  # more than one candidate word per this many bytes: read everything


class _Tier:
    """Needles of at least width+stride-1 bytes, looked for through `width`-byte words
    read every `stride` bytes (any such needle contains one whole word)."""

    def __init__(self, width: int, stride: int, needles: list[bytes]):
        self.width = width
        self.stride = stride
        # Two bitmaps of the same hash: a small one that stays in cache screens every
        # word, the large one (few collisions) confirms the survivors.
        self.table = np.zeros(1 << _BITS, dtype=np.bool_)
        self.small = np.zeros(1 << _SMALL_BITS, dtype=np.bool_)
        grams = {
            needle[i : i + width] for needle in needles for i in range(len(needle) - width + 1)
        }
        if grams:
            words = np.frombuffer(b"".join(sorted(grams)), dtype=_DTYPE[width])
            hashed = self._hash(words)
            self.table[hashed] = True
            self.small[hashed >> (_BITS - _SMALL_BITS)] = True

    def _hash(self, words: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((words * _MULT[self.width]) >> _SHIFT[self.width]).astype(np.int32)

    def hits(self, data: bytes) -> np.ndarray:
        """Byte offsets of the words that may belong to a needle."""
        found = []
        for start in range(0, self.width, self.stride):
            count = (len(data) - start) // self.width
            if count <= 0:
                continue
            words = np.frombuffer(data, dtype=_DTYPE[self.width], count=count, offset=start)
            hashed = self._hash(words)
            screened = np.flatnonzero(np.take(self.small, hashed >> (_BITS - _SMALL_BITS)))
            confirmed = screened[np.take(self.table, hashed[screened])]
            found.append(confirmed * self.width + start)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


class Prefilter:
    def __init__(self, needles: Iterable[str]):
        raw = [n.encode("latin-1") for n in needles]
        self.longest = max((len(n) for n in raw), default=0)
        self.full_pass = any(len(n) < 7 for n in raw)  # shorter than any tier handles
        self.tiers = [
            _Tier(8, 8, [n for n in raw if len(n) >= 15]),
            _Tier(8, 4, [n for n in raw if 11 <= len(n) < 15]),
            _Tier(4, 4, [n for n in raw if 7 <= len(n) < 11]),
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
        if offsets.size > len(data) // DENSE:
            return None  # candidates everywhere: one full pass beats many small ones
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
