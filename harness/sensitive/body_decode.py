"""Message bodies -> the texts a scanner should look at, each with where and how it got there.

Content encodings (gzip, deflate, br, zstd, and gzip/zstd recognised by their magic
bytes) are undone first, with a cap on the decoded size; the result is walked as JSON,
form, multipart or protobuf wire format, and base64 blobs are decoded one level (and
un-gzipped or un-zstd'd if that is what they hold). Nothing here raises on garbage: a
body that does not decode yields a note and is scanned as it is.

Each layer is named once, where it is undone (a chain is outermost first): the header's
codings, then the gzip and zstd layers magic bytes still show, one under the other
(`unwrap`); a blob by its alphabet (`base64`, `base64url`), then what `unwrap` finds in it.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import brotli
import zstandard

from harness.names import safe_name
from harness.sensitive.multimatch import SINGLE, Matcher

MAX_DECODED = 64 * 1024 * 1024  # a decompression bomb stops here
# Runs of base64 characters (standard and URL-safe) 24 or longer: whether there is one
# (Hyperscan reads a bare bounded repeat at GB/s), then where each starts (the end of its
# first 24) and where it ends, each matched once per run (some 800 MB/s on JSON).
# Compiled once, immutable; each thread scans with its own scratch.
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_B64, _NOT_B64 = rb"[A-Za-z0-9+/_-]", rb"[^A-Za-z0-9+/_-]"
_B64_RUN_ANY = Matcher([_B64 + rb"{24}"], flags=[SINGLE])
_B64_RUN_START, _B64_RUN_END = 0, 1
_B64_RUN_EDGES = Matcher([
    rb"(?:\A|" + _NOT_B64 + rb")" + _B64 + rb"{24}",
    _B64 + rb"{24}(?:" + _NOT_B64 + rb"|\z)",
])
_HEX_DASH = b"0123456789abcdefABCDEF-"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_SNIFFED = 4  # layers recognised by magic bytes alone, one under the other
_CODING_NAMES = {"x-gzip": "gzip"}  # a coding's other name -> the name a chain gives it


@dataclass
class Decoded:
    data: bytes
    chain: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def _bounded_zlib(data: bytes, wbits: int, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    out = decompressor.decompress(data, limit)
    if decompressor.unconsumed_tail:
        raise ValueError(f"decoded size exceeds {limit} bytes")
    return out


def decompress(data: bytes, encoding: str, limit: int = MAX_DECODED) -> bytes:
    """Undo one content encoding; raises ValueError (or zlib/brotli errors) on garbage."""
    if encoding in ("gzip", "x-gzip"):
        return _bounded_zlib(data, 16 + zlib.MAX_WBITS, limit)
    if encoding == "deflate":
        try:
            return _bounded_zlib(data, zlib.MAX_WBITS, limit)
        except zlib.error:
            return _bounded_zlib(data, -zlib.MAX_WBITS, limit)
    if encoding == "br":
        out = brotli.decompress(data)
        if len(out) > limit:
            raise ValueError(f"decoded size exceeds {limit} bytes")
        return out
    if encoding == "zstd":
        with zstandard.ZstdDecompressor().stream_reader(data) as reader:
            out = reader.read(limit + 1)
        if len(out) > limit:
            raise ValueError(f"decoded size exceeds {limit} bytes")
        return out
    if encoding == "identity":
        return data
    raise ValueError(f"unknown content encoding {encoding!r}")


_DECODE_ERRORS = (ValueError, zlib.error, brotli.error, zstandard.ZstdError, EOFError, gzip.BadGzipFile)


def content_decode(data: bytes, content_encoding: str | None, limit: int = MAX_DECODED) -> Decoded:
    """Undo the Content-Encoding header's codings (last applied first), then whatever
    gzip or zstd layers magic bytes still show. Each layer undone is named once in the
    chain, outermost first; a coding that does not decode stops there, with a note."""
    result = Decoded(data)
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        try:
            result.data = decompress(result.data, coding, limit)
        except _DECODE_ERRORS as e:
            result.notes.append(f"body: content-encoding {coding} did not decode ({_short(e)}); scanned as sent")
            return result
        result.chain += (_CODING_NAMES.get(coding, coding),)
    result.data, sniffed = unwrap(result.data, limit)
    result.chain += sniffed
    return result


def may_expand(data: bytes, content_encoding: str | None) -> bool:
    """Whether decoding may make the body larger: a content encoding, or gzip or zstd
    magic bytes (see `unwrap`)."""
    if content_encoding and content_encoding.strip().lower() != "identity":
        return True
    return data.startswith(_GZIP_MAGIC) or data.startswith(_ZSTD_MAGIC)


def unwrap(data: bytes, limit: int = MAX_DECODED) -> tuple[bytes, tuple[str, ...]]:
    """gzip and zstd layers recognised by their magic bytes (bodies and blobs sent without
    a Content-Encoding), undone one under the other: (what is inside, the layers undone,
    outermost first). A layer that does not decode is left as it is."""
    chain: tuple[str, ...] = ()
    while len(chain) < MAX_SNIFFED:
        coding = _magic_coding(data)
        if coding is None:
            break
        try:
            data = decompress(data, coding, limit)
        except _DECODE_ERRORS:
            break
        chain += (coding,)
    return data, chain


def _magic_coding(data: bytes) -> str | None:
    if data.startswith(_GZIP_MAGIC):
        return "gzip"
    if data.startswith(_ZSTD_MAGIC):
        return "zstd"
    return None


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text[:120]


# --- base64 blobs ------------------------------------------------------------------------


def base64_blobs(data: bytes, limit: int = 256,
                 max_decoded: int = MAX_DECODED) -> Iterator[tuple[int, int, bytes, tuple[str, ...]]]:
    """(start, end, decoded bytes, chain) for base64 runs that decode to something worth
    scanning; the chain (outermost first) names the run's alphabet (`base64`, or
    `base64url` for a run with `-` or `_`), then the gzip or zstd layers inside it."""
    count = 0
    for start, end in _b64_runs(data):
        run = data[start:end]
        if not run.strip(_HEX_DASH):  # hex ids and digests are not base64 blobs
            continue
        decoded = _b64decode(run)
        if decoded is None:
            continue
        decoded, layers = unwrap(decoded, max_decoded)
        if not layers and not _mostly_text(decoded):
            continue
        yield start, end, decoded, (base64_name(run),) + layers
        count += 1
        if count >= limit:
            return


def base64_name(run: bytes) -> str:
    """`base64url` for text in the URL-safe alphabet (it has `-` or `_`), else `base64`."""
    return "base64url" if b"-" in run or b"_" in run else "base64"


def base64_run_around(data: bytes, start: int, end: int, reach: int = 4096) -> bytes:
    """The run of base64 characters that data[start:end] lies in (at most `reach` bytes
    either side of it)."""
    before = data[max(0, start - reach) : start]
    after = data[end : end + reach]
    head = before[len(before.rstrip(_B64_CHARS)) :]
    tail = after[: len(after) - len(after.lstrip(_B64_CHARS))]
    return head + data[start:end] + tail


def _b64_runs(data: bytes) -> list[tuple[int, int]]:
    """[start, end) of runs of base64 characters at least 24 long, with their padding
    (what `[A-Za-z0-9+/_-]{24,}={0,2}` finds), read in one Hyperscan pass: a run's start
    and its end match once each, in the text's order."""
    if not _B64_RUN_ANY.ends(data):
        return []
    starts, ends = [], []
    for edge, end in _B64_RUN_EDGES.ends(data):
        if edge == _B64_RUN_START:
            starts.append(end - 24)
        else:  # the match takes the character after the run, unless the text ends there
            ends.append(end if data[end - 1] in _B64_CHARS else end - 1)
    runs = []
    for start, end in zip(starts, ends, strict=True):
        padding = data[end : end + 2]
        runs.append((start, end + len(padding) - len(padding.lstrip(b"="))))
    return runs


def _b64decode(run: bytes) -> bytes | None:
    text = run.rstrip(b"=")
    text += b"=" * (-len(text) % 4)
    try:
        if b"-" in text or b"_" in text:
            return base64.urlsafe_b64decode(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _mostly_text(data: bytes) -> bool:
    if not data:
        return False
    sample = data[:512]
    printable = sum(1 for b in sample if 32 <= b < 127 or b in (9, 10, 13) or b >= 0xC0)
    return printable >= 0.85 * len(sample)


# --- structure ---------------------------------------------------------------------------


def json_leaves(data: bytes, where: str = "body") -> Iterator[tuple[str, bytes]] | None:
    """(where, bytes) of every key and scalar in a JSON document, or None if not JSON."""
    stripped = data.lstrip()
    if stripped[:1] not in (b"{", b"["):
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return _walk_json(doc, f"{where}:$")


def _walk_json(node: object, path: str, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    if depth > 64:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if _SIMPLE_KEY.match(str(key)) else f"{path}[{json.dumps(str(key))}]"
            yield child, str(key).encode("utf-8", "surrogatepass")
            yield from _walk_json(value, child, depth + 1)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_json(value, f"{path}[{index}]", depth + 1)
    elif isinstance(node, str):
        yield path, node.encode("utf-8", "surrogatepass")
    elif node is not None and not isinstance(node, bool):
        yield path, str(node).encode()


_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def form_fields(data: bytes, where: str = "body") -> Iterator[tuple[str, bytes]]:
    text = data.decode("latin-1")
    for key, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        name = safe_name(key)
        yield f"{where}:{name}", key.encode("latin-1", "replace")
        yield f"{where}:{name}", value.encode("latin-1", "replace")


def multipart_parts(data: bytes, content_type: str) -> list[tuple[str, str | None, bytes]] | None:
    """(name, part content type, content) of a multipart body, or None if it is not one."""
    match = re.search(r"boundary=\"?([^\";]+)\"?", content_type, re.IGNORECASE)
    if not match:
        return None
    boundary = b"--" + match.group(1).encode("latin-1", "replace")
    parts = []
    for chunk in data.split(boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, body = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = chunk.partition(b"\n\n")
        if not sep:
            continue
        headers = head.decode("latin-1", "replace")
        name_match = re.search(r"name=\"([^\"]*)\"", headers)
        type_match = re.search(r"content-type:\s*([^\r\n]+)", headers, re.IGNORECASE)
        name = safe_name(name_match.group(1)) if name_match else str(len(parts))
        parts.append((name, type_match.group(1).strip() if type_match else None, body.rstrip(b"\r\n")))
    return parts


class ProtobufError(ValueError):
    pass


def protobuf_strings(data: bytes, where: str = "body", depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """Length-delimited fields of protobuf wire format (nested messages walked), as
    (where, bytes) with where like `body:pb.1.3`. Raises ProtobufError when the bytes
    are not wire format (truncated, bad wire type), after yielding what was read."""
    pos, end = 0, len(data)
    prefix = where if depth else f"{where}:pb"
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise ProtobufError("truncated length-delimited field")
            value = data[pos : pos + length]
            pos += length
            path = f"{prefix}.{number}"
            nested = _nested(value, path, depth) if depth < 16 and value else None
            if nested is not None:
                yield from nested
            else:
                yield path, value
        else:
            raise ProtobufError(f"wire type {wire}")
        if pos > end:
            raise ProtobufError("truncated field")


def _nested(value: bytes, path: str, depth: int) -> list[tuple[str, bytes]] | None:
    if _mostly_text(value) and value[:1] not in (b"\n", b"\x12", b"\x1a"):
        return None
    try:
        return list(protobuf_strings(value, path, depth + 1))
    except ProtobufError:
        return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")
