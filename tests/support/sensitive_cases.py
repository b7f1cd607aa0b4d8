"""The scanner's claims as tables (no tests here): every data type it knows, every
encoding a value may travel in, every container and body structure it undoes, and the
one finding each combination must give: type, id, where, and the encoding chain naming
each layer once, innermost first (docs/architecture.md).

Used by tests/sensitive/test_encoding_table.py (the Scanner) and tests/addons/
test_sensitive.py (the Sensitive addon, Content-Encoding headers through mitmproxy).
The expected chains are written out here, not derived from harness.sensitive.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import brotli
import zstandard

# -- what is looked for ---------------------------------------------------------------------

CANARIES = {
    "identifiers": {
        "imei": "490154203237518",
        "imsi": "404450123456789",
        "iccid": "8991101200003204514",
        "phone": "+919876543210",
        "serial": "R58M12ABCDE",
        "android_id": "9774d56d682e549c",
        "wifi_mac": "02:1a:11:f0:c3:9e",
        "bt_mac": "a4:5e:60:c2:11:7b",
        "advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d",
    },
    "planted": [
        {"type": "contact", "id": "contact-1", "name": "CANARYc0ntact7Q", "phone": "+919811122233",
         "email": "canary.contact@example.net"},
        {"type": "sms", "id": "sms-1", "text": "CANARY sms body 42xq"},
        {"type": "clipboard", "id": "clip-1", "value": "CANARY~~~>>>???clip"},
        {"type": "account", "id": "account-1", "value": "Canary.User@example.com"},
        {"type": "location", "id": "loc-1", "lat": 28.6139, "lon": 77.2090},
    ],
}


@dataclass(frozen=True)
class Value:
    """One canary value as the handset holds it, and the other forms the scanner claims
    to know it in (case, separators, country code)."""

    type: str
    id: str
    text: str
    forms: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.id}:{self.text}" if self.type == "contact" else self.id


VALUES = [
    Value("imei", "imei", "490154203237518"),
    Value("imsi", "imsi", "404450123456789"),
    Value("iccid", "iccid", "8991101200003204514"),
    Value("phone", "phone", "+919876543210", ("919876543210", "9876543210")),
    Value("serial", "serial", "R58M12ABCDE", ("r58m12abcde",)),
    Value("android_id", "android_id", "9774d56d682e549c", ("9774D56D682E549C",)),
    Value("wifi_mac", "wifi_mac", "02:1a:11:f0:c3:9e",
          ("02:1A:11:F0:C3:9E", "02-1a-11-f0-c3-9e", "02-1A-11-F0-C3-9E", "021a11f0c39e", "021A11F0C39E")),
    Value("bt_mac", "bt_mac", "a4:5e:60:c2:11:7b",
          ("A4:5E:60:C2:11:7B", "a4-5e-60-c2-11-7b", "A4-5E-60-C2-11-7B", "a45e60c2117b", "A45E60C2117B")),
    Value("advertising_id", "advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d",
          ("38400000-8CF0-11BD-B23E-10B96E40000D", "384000008cf011bdb23e10b96e40000d")),
    Value("contact", "contact-1", "CANARYc0ntact7Q"),
    Value("contact", "contact-1", "+919811122233"),
    Value("contact", "contact-1", "canary.contact@example.net"),
    Value("sms", "sms-1", "CANARY sms body 42xq"),
    Value("clipboard", "clip-1", "CANARY~~~>>>???clip"),
    Value("account", "account-1", "Canary.User@example.com", ("canary.user@example.com",)),
]

# Recognised by shape alone (none of them a canary): (finding type, text as sent).
PATTERNS = [
    ("imei", "356938035643809"),
    ("iccid", "8901260000000000014"),
    ("mac", "3c:22:fb:90:1d:4e"),
    ("email", "someone.else@example.org"),
    ("phone", "+14155550123"),
    ("imsi", "imsi=310260000000001"),
    ("android_id", "android_id=0123456789abcdef"),
    ("advertising_id", "adid=6f1c2a9e-3b7d-4c1e-9a8f-2d5b7e9c0a14"),
]
LOCATION_TEXT = "lat=28.61391&lon=77.20902"

# -- how a value is encoded by the sender ---------------------------------------------------


def _b64(data: bytes, altchars: bytes | None = None) -> str:
    return base64.b64encode(data, altchars=altchars).decode()


def value_encodings(text: str) -> list[tuple[str, str, str]]:
    """(case name, the text as sent, its encoding name) for one value."""
    raw = text.encode()
    cases = [("plain", text, "plain")]
    if quote(text, safe="") != text:
        cases.append(("url", quote(text, safe=""), "url"))
    if quote_plus(text, safe="") != quote(text, safe=""):
        cases.append(("url-plus", quote_plus(text, safe=""), "url"))
    for k, prefix in enumerate((b"", b"\xfb", b"\xfb\xef")):  # the value at each alignment
        standard = _b64(prefix + raw)
        cases.append((f"base64@{k}", standard, "base64"))
        urlsafe = _b64(prefix + raw, b"-_")
        # which alphabet a text is in shows only where a 6-bit group is 62 or 63
        named = "base64url" if "-" in urlsafe or "_" in urlsafe else "base64"
        cases.append((f"base64url@{k}", urlsafe, named))
    cases += [("hex", raw.hex(), "hex"), ("HEX", raw.hex().upper(), "hex")]
    for algo in ("md5", "sha1", "sha256"):
        digest = hashlib.new(algo, raw).digest()
        cases += [
            (algo, digest.hex(), algo),
            (f"{algo}-upper", digest.hex().upper(), algo),
            (f"{algo}-base64", _b64(digest), algo),
            (f"{algo}-base64url", _b64(digest, b"-_").rstrip("="), algo),
        ]
    return cases


def chain(*steps: str) -> str:
    """The encoding chain as findings name it: innermost first, `plain` only alone."""
    named = [step for step in steps if step != "plain"]
    return "+".join(named) or "plain"


# -- how a body is framed -------------------------------------------------------------------

_WORDS = "event session screen click device model locale timezone battery network carrier build".split()
_rng = random.Random(18)
# enough ordinary text that every compressor codes the value instead of storing it as is
FILLER = " ".join(_rng.choice(_WORDS) for _ in range(60))


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def pb_field(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _multipart(text: str) -> bytes:
    part = json.dumps({"note": FILLER, "v": text}).encode()
    return (b"--XX\r\nContent-Disposition: form-data; name=\"m\"\r\nContent-Type: application/json\r\n\r\n"
            + part + b"\r\n--XX--\r\n")


@dataclass(frozen=True)
class Structure:
    name: str
    build: Callable[[str], bytes]
    content_type: str
    where: str  # where a value in it is found when the content type is sent
    where_untyped: str | None  # and when none is (None: not claimed)


STRUCTURES = [
    Structure("text", lambda t: f"note {FILLER} v={t} end".encode(), "text/plain", "body", "body"),
    Structure("json", lambda t: json.dumps({"note": FILLER, "v": t}).encode(), "application/json",
              "body:$.v", "body:$.v"),
    # a form is walked only when declared: untyped, its %-escapes are read as sent
    Structure("form", lambda t: f"note={quote_plus(FILLER)}&v={quote_plus(t)}".encode(),
              "application/x-www-form-urlencoded", "body:v", None),
    Structure("multipart", _multipart, "multipart/form-data; boundary=XX", "body:m:$.v", "body"),
    Structure("protobuf", lambda t: pb_field(1, FILLER.encode()) + pb_field(2, t.encode()),
              "application/x-protobuf", "body:pb.2", "body"),
]
JSON = STRUCTURES[1]

# -- what the body is wrapped in ----------------------------------------------------------------


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def _br(data: bytes) -> bytes:
    return brotli.compress(data, quality=5)  # the default (11) takes 1.6 ms a body


@dataclass(frozen=True)
class Container:
    """Layers around the body: `wrap` applies them, `header` is the Content-Encoding sent
    (None: none), `layers` names them innermost first as a chain must, `walked` says
    whether the structure inside is still walked (a base64 blob is scanned as text)."""

    name: str
    wrap: Callable[[bytes], bytes]
    header: str | None
    layers: tuple[str, ...]
    walked: bool = True


CONTAINERS = [
    Container("none", lambda b: b, None, ()),
    Container("identity", lambda b: b, "identity", ()),
    Container("gzip", gzip.compress, "gzip", ("gzip",)),
    Container("x-gzip", gzip.compress, "x-gzip", ("gzip",)),
    Container("gzip-no-header", gzip.compress, None, ("gzip",)),
    Container("deflate", zlib.compress, "deflate", ("deflate",)),
    Container("deflate-raw", lambda b: zlib.compress(b, wbits=-15), "deflate", ("deflate",)),
    Container("br", _br, "br", ("br",)),
    Container("zstd", _zstd, "zstd", ("zstd",)),
    Container("zstd-no-header", _zstd, None, ("zstd",)),
    Container("gzip-then-br", lambda b: _br(gzip.compress(b)), "gzip, br", ("gzip", "br")),
    Container("gzip-then-gzip", lambda b: gzip.compress(gzip.compress(b)), "gzip, gzip", ("gzip", "gzip")),
    Container("gzip-then-gzip-no-header", lambda b: gzip.compress(gzip.compress(b)), None, ("gzip", "gzip")),
    Container("zstd-in-gzip-header", lambda b: gzip.compress(_zstd(b)), "gzip", ("zstd", "gzip")),
    Container("base64", lambda b: base64.b64encode(b), None, ("base64",), walked=False),
    Container("base64-of-gzip", lambda b: base64.b64encode(gzip.compress(b)), None, ("gzip", "base64"),
              walked=False),
    Container("base64-of-zstd", lambda b: base64.b64encode(_zstd(b)), None, ("zstd", "base64"), walked=False),
]
COMPRESSED = frozenset({"gzip", "deflate", "br", "zstd"})


def where_of(structure: Structure, container: Container, typed: bool) -> str | None:
    """Where the value is reported; None for a combination the scanner does not claim."""
    if not container.walked:  # a base64 blob: scanned as text (as if untyped), where it starts
        return None if structure.where_untyped is None else "body"
    return structure.where if typed else structure.where_untyped


def content_type(structure: Structure, container: Container, typed: bool) -> str | None:
    """What the sender declares: a body sent as base64 text is declared text."""
    if not typed:
        return None
    return structure.content_type if container.walked else "text/plain"


def findings_of(result_findings) -> set[tuple[str, str, str, str]]:
    """(type, id, where, encoding) of findings, as Finding objects or flow-record dicts."""
    out = set()
    for f in result_findings:
        if isinstance(f, dict):
            out.add((f["type"], f["id"], f["where"], f["encoding"]))
        else:
            out.add((f.type, f.id, f.where, f.encoding))
    return out
