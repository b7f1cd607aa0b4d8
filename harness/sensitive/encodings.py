"""Every way a sensitive value may travel: its forms and their encodings, as needles.

A value (an IMEI, a MAC, a planted contact) first gets its *forms* (a MAC with colons,
dashes, none; upper and lower case; a phone number with and without its country code),
then each form gets its *encodings*: plain, URL-encoded, base64 in all three alignments
(the value embedded at byte offset 0, 1 or 2 of a longer base64 stream, standard and
URL-safe alphabets), hex (both cases), and md5, sha1, sha256 digests (hex in both cases,
base64). Needles are latin-1 strings: bytes mapped one to one onto code points, so a
match offset is a byte offset.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

MIN_NEEDLE = 8  # shorter fragments match by chance
_DIGITS = re.compile(r"\D")


def forms_of(kind: str, value: str) -> list[str]:
    """The textual forms a value of this kind is commonly sent in (first = canonical)."""
    value = value.strip()
    forms = [value]
    if kind in ("wifi_mac", "bt_mac", "mac"):
        hexdigits = re.sub(r"[^0-9A-Fa-f]", "", value)
        if len(hexdigits) == 12:
            pairs = [hexdigits[i : i + 2] for i in range(0, 12, 2)]
            for sep in (":", "-", ""):
                joined = sep.join(pairs)
                forms += [joined.lower(), joined.upper()]
    elif kind in ("phone", "number"):
        digits = _DIGITS.sub("", value)
        if len(digits) >= 7:
            forms += [digits, "+" + digits]
            if len(digits) > 10:
                forms.append(digits[-10:])
    elif kind in ("advertising_id", "android_id", "serial"):
        forms += [value.lower(), value.upper()]
        if kind == "advertising_id":
            forms.append(value.replace("-", "").lower())
    elif kind in ("email", "account"):
        forms.append(value.lower())
    seen: dict[str, None] = {}
    for form in forms:
        if form:
            seen.setdefault(form, None)
    return list(seen)


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


def base64_fragments(data: bytes, altchars: bytes | None = None) -> Iterator[tuple[int, str]]:
    """The base64 text that `data` becomes at each alignment in a longer stream.

    At alignment k the value starts k bytes into a 3-byte group; only the characters
    whose 6 bits come entirely from `data` are kept.
    """
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data, altchars=altchars).rstrip(b"=")
        first = -(-8 * k // 6)  # ceil(8k / 6): characters touched by the k leading bytes
        last = (8 * (k + len(data))) // 6  # characters entirely inside the value
        fragment = encoded[first:last]
        if fragment:
            yield k, _latin1(fragment)


def encodings_of(form: str) -> Iterator[tuple[str, str]]:
    """(encoding name, needle) for one textual form of a value."""
    raw = form.encode("utf-8")
    yield "plain", _latin1(raw)
    for name, text in (("url", quote(form, safe="")), ("url", quote_plus(form, safe=""))):
        if text != form:
            yield name, text
    for _, fragment in base64_fragments(raw):
        yield "base64", fragment
    for _, fragment in base64_fragments(raw, altchars=b"-_"):
        yield "base64url", fragment
    yield "hex", raw.hex()
    yield "hex", raw.hex().upper()
    for algo in ("md5", "sha1", "sha256"):
        digest = hashlib.new(algo, raw).digest()
        yield algo, digest.hex()
        yield algo, digest.hex().upper()
        yield algo, _latin1(base64.b64encode(digest).rstrip(b"="))
        yield algo, _latin1(base64.urlsafe_b64encode(digest).rstrip(b"="))


def needles_of(kind: str, value: str) -> Iterator[tuple[str, str]]:
    """(encoding, needle) for every form of a value; needles shorter than MIN_NEEDLE
    are left out, except a plain value shorter than that (kept if at least 4 long)."""
    seen: set[str] = set()
    for form in forms_of(kind, value):
        for encoding, needle in encodings_of(form):
            if needle in seen:
                continue
            if len(needle) < MIN_NEEDLE and not (encoding == "plain" and len(needle) >= 4):
                continue
            seen.add(needle)
            yield encoding, needle
