"""The texts a masked report must not show: every canary and device identifier of the
runs, in every form and encoding the scanner looks for.

A flow that sent `md5(serial)` in a URL matched the scanner's md5 needle; the report
shows that URL, so masking the plain serial is not enough. The forms and encodings are
the scanner's own (`harness.sensitive.encodings.needles_of`): plain, URL-encoded, base64
and base64url at each alignment, hex, md5, sha1 and sha256 digests (hex, base64), of
each form of the value (a MAC with and without separators, upper and lower case, ...).
Reports match them without regard to case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.analysis.dataflows import canary_index
from harness.capture import parse_canaries
from harness.errors import CaptureError
from harness.sensitive.encodings import forms_of, needles_of

MIN_TEXT = 4  # shorter values are masked nowhere: they would match by chance


def _values(canaries: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) of every canary; a canaries.json of a wrong shape keeps what it can."""
    try:
        parsed = [(c.type, c.value) for c in parse_canaries(canaries).values]
    except CaptureError:  # a wrong shape: canary_index below keeps what it can read
        parsed = []
    return parsed + [(cid, value) for value, cid in canary_index(canaries)[0].items()]


def _text(needle: str) -> str | None:
    """A needle (latin-1: bytes as code points) as the text a report shows, if it is one."""
    try:
        return needle.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def masked_texts(canaries_by_run: Iterable[dict[str, Any]]) -> list[str]:
    """Every text to mask, longest first (so a longer match wins over a part of it)."""
    texts: set[str] = set()
    for canaries in canaries_by_run:
        for kind, value in _values(canaries):
            texts.update(forms_of(kind, value))
            texts.update(t for _, needle in needles_of(kind, value) if (t := _text(needle)) is not None)
    return sorted((t for t in texts if len(t) >= MIN_TEXT), key=lambda t: (-len(t), t))
