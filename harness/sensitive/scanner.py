"""Canaries and patterns -> needles in every encoding; one pass over a message per text.

The needles are built once per run from canaries.json (device identifiers and planted
values, see docs/architecture.md) in every form and encoding (`harness.sensitive.encodings`) and
compiled into one Hyperscan database (`harness.sensitive.multimatch`: over 2 GB/s for 1,600
needles), so a text is read once whatever the number of needles.
Patterns catch identifiers the canaries do not list (another IMEI, an e-mail address,
a MAC); they run over the same texts with a size cap.

A finding says what (type, id: the canary id or `pattern:<name>`), where (`url`,
`header:<name>`, `cookie:<name>`, `body`, `body:$.json.path`, `body:<form field>`,
`body:pb.1.2`), through which encoding chain (the sender's order, innermost first, each
layer once: `sha256+gzip` is a sha256 digest in a gzip'd body) and at which offset of the
text. A value is reported as the longest form that matched (`url` for `%2B919876543210`,
not also `plain` for its digits), in the walked field rather than the framed body, and
base64 by the alphabet of the run it is in.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from harness.capture.canaries import (  # noqa: F401 - re-exported: the scanner's public API
    IDENTIFIER_KEYS,
    Canaries,
    Canary,
    PlantedLocation,
    load_canaries,
    parse_canaries,
)
from harness.names import safe_name
from harness.sensitive.body_decode import (
    MAX_DECODED,
    ProtobufError,
    base64_blobs,
    base64_name,
    base64_run_around,
    content_decode,
    form_fields,
    json_leaves,
    multipart_parts,
    protobuf_strings,
)
from harness.sensitive.encodings import forms_of, needles_of
from harness.sensitive.multimatch import Matcher, escaped
from harness.sensitive.patterns import (  # noqa: F401 - luhn_ok re-exported
    DECIMAL_HEAD,
    DECIMAL_TAIL,
    luhn_ok,
    pattern_findings,
)


@dataclass(frozen=True)
class Finding:
    type: str
    id: str
    where: str
    encoding: str
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the scanner -------------------------------------------------------------------------


@dataclass(frozen=True)
class Needle:
    type: str
    id: str
    encoding: str


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def encoding_chain(needle_encoding: str, decoded: tuple[str, ...]) -> str:
    """Sender's order, innermost first: the needle's own encoding, then the decodings
    the scanner undid, last undone first. `decoded` holds each layer once, as it was
    undone (body_decode names a layer where it undoes it), so nothing here merges."""
    steps = [needle_encoding] + list(reversed(decoded))
    if len(steps) > 1 and steps[0] == "plain":
        steps = steps[1:]
    return "+".join(steps)


class Scanner:
    """Built once per run; `scan_message` for a request or response, `scan_text` for one text."""

    def __init__(
        self,
        canaries: Canaries | None = None,
        *,
        patterns: bool = True,
        pattern_max_bytes: int = 256 * 1024,
        location_tolerance: float = 0.05,
        max_decoded: int = MAX_DECODED,
    ):
        self.canaries = canaries or Canaries()
        self.patterns = patterns
        self.pattern_max_bytes = pattern_max_bytes
        self.location_tolerance = location_tolerance
        self.max_decoded = max_decoded
        self.needle_count = 0
        self.longest_needle = 0
        self._matcher: Matcher | None = None
        self._needles: list[tuple[Needle, ...]] = []  # by the matcher's expression index
        self._lengths: list[int] = []
        self._known: frozenset[bytes] = frozenset()
        self._build()

    @classmethod
    def from_file(cls, path: Path | None, **options: Any) -> Scanner:
        return cls(load_canaries(path) if path else None, **options)

    def _build(self) -> None:
        table: dict[str, list[Needle]] = {}
        known: set[bytes] = set()
        for canary in self.canaries.values:
            for form in forms_of(canary.type, canary.value):
                known.add(form.encode("utf-8"))
            for encoding, text in needles_of(canary.type, canary.value):
                needle = Needle(canary.type, canary.id, encoding)
                bucket = table.setdefault(text, [])
                if needle not in bucket:
                    bucket.append(needle)
        self._known = frozenset(known)
        self.needle_count = len(table)
        self.longest_needle = max((len(text) for text in table), default=0)
        if table:
            texts = [text.encode("latin-1") for text in table]
            self._matcher = Matcher([escaped(text) for text in texts])
            self._needles = [tuple(needles) for needles in table.values()]
            self._lengths = [len(text) for text in texts]

    # -- one text ---------------------------------------------------------------------

    def scan_needles(self, data: bytes, where: str, chain: tuple[str, ...] = ()) -> list[Finding]:
        """The canary needles only: one pass over the bytes as they are, every occurrence
        in order of where it ends. A match inside a longer match of the same value is
        part of it (the digits of `%2B919876543210` are that URL-encoded number, not a
        second, plain one); base64 is named by the alphabet of the run it is in."""
        findings: list[Finding] = []
        if self._matcher is None or not data:
            return findings
        matches = [
            (end - self._lengths[index], end, needle)
            for index, end in self._matcher.ends(data)
            for needle in self._needles[index]
        ]
        if len(matches) > 1:
            matches = _outermost(matches)
        for start, end, needle in matches:
            encoding = needle.encoding
            if encoding in ("base64", "base64url"):
                encoding = base64_name(base64_run_around(data, start, end))
            findings.append(Finding(needle.type, needle.id, where, encoding_chain(encoding, chain), start))
        return findings

    def scan_text(
        self, data: bytes, where: str, chain: tuple[str, ...] = (), blobs: bool = True, patterns: bool = True
    ) -> list[Finding]:
        findings = self.scan_needles(data, where, chain)
        if patterns and self.patterns and data:
            findings += self._patterns(data, where, chain)
        if blobs and data:
            for start, end, decoded, inner in base64_blobs(data, max_decoded=self.max_decoded):
                inside = self.scan_text(decoded, where, chain + inner, blobs=False, patterns=patterns)
                if not inside:
                    continue
                # the run decoded explains what a needle matched in it: `url+base64`, not
                # the base64 of a shorter form of the value that the URL-encoding left be
                values = {(f.type, f.id) for f in inside}
                findings = [f for f in findings if not (start <= f.offset < end and (f.type, f.id) in values)]
                findings += [Finding(f.type, f.id, where, f.encoding, start) for f in inside]
        return findings

    def _patterns(self, data: bytes, where: str, chain: tuple[str, ...]) -> list[Finding]:
        window = data[: self.pattern_max_bytes]
        found = [
            Finding(kind, f"pattern:{kind}", where, encoding_chain("plain", chain), offset)
            for kind, offset, matched in pattern_findings(window, self._known)
            if matched not in self._known
        ]
        found.extend(self._locations(window, where, chain))
        return found

    def _locations(self, data: bytes, where: str, chain: tuple[str, ...]) -> Iterator[Finding]:
        if not self.canaries.locations or b"." not in data:
            return
        numbers = []
        for m in DECIMAL_TAIL.finditer(data):
            head = DECIMAL_HEAD.search(data, max(0, m.start() - 4), m.start())
            if head:
                numbers.append((head.start(), float(data[head.start() : m.end()])))
        tol = self.location_tolerance
        for planted in self.canaries.locations:
            lats = [pos for pos, value in numbers if abs(value - planted.lat) <= tol]
            lons = [pos for pos, value in numbers if abs(value - planted.lon) <= tol]
            near = [a for a in lats if any(abs(a - b) <= 256 for b in lons)]
            if near:
                yield Finding("location", planted.id, where, encoding_chain("plain", chain), near[0])

    # -- a message --------------------------------------------------------------------

    def scan_message(
        self,
        *,
        url: str | None = None,
        headers: Iterable[tuple[str | bytes, str | bytes]] = (),
        body: bytes | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
    ) -> ScanResult:
        result = ScanResult()
        # the URL and every header and cookie value: one text, one pass
        parts: list[tuple[str, bytes]] = []
        raw_url = url.encode("utf-8", "surrogateescape") if url else b""
        if raw_url:
            parts.append(("url", raw_url))
        for name, value in headers:  # text, or bytes as sent (mitmproxy's `headers.fields`)
            if type(name) is bytes:
                name = name.decode("utf-8", "surrogateescape")
            lname = safe_name(name.lower())
            raw = value if type(value) is bytes else value.encode("utf-8", "surrogateescape")
            if lname == "cookie":
                for cookie in raw.split(b";"):
                    key, _, val = cookie.strip().partition(b"=")
                    parts.append((f"cookie:{safe_name(key.decode('latin-1'))}", val))
            elif lname == "host":  # the URL's own host, unless the header names another
                if raw.lower() not in raw_url.lower():
                    parts.append(("header:host", raw))
            elif lname not in ("content-length", "content-type", "content-encoding"):
                parts.append((f"header:{lname}", raw))
        if parts:
            result.findings += self._scan_parts(parts)
        if b"%" in raw_url or b"+" in raw_url:  # values URL-encoded after their own encoding
            unquoted = unquote_to_bytes(raw_url.replace(b"+", b" "))
            url_findings = {(f.type, f.id) for f in result.findings if f.where == "url"}
            result.findings += [
                f for f in self.scan_text(unquoted, "url", ("url",), patterns=False)
                if (f.type, f.id) not in url_findings
            ]
        if body:
            self._scan_body(body, content_type or "", content_encoding, "body", result)
        result.findings = _dedupe(result.findings)
        return result

    def _scan_parts(self, parts: list[tuple[str, bytes]]) -> list[Finding]:
        """The URL and all header and cookie values in one pass (joined by newlines),
        each finding mapped back to the value it is in."""
        joined = b"\n".join(raw for _, raw in parts)
        starts, position = [], 0
        for _, raw in parts:
            starts.append(position)
            position += len(raw) + 1
        found = []
        for finding in self.scan_text(joined, ""):
            index = bisect.bisect_right(starts, finding.offset) - 1
            found.append(Finding(finding.type, finding.id, parts[index][0], finding.encoding,
                                 finding.offset - starts[index]))
        return found

    def _scan_body(self, body: bytes, ctype: str, cenc: str | None, where: str, result: ScanResult,
                   outer: tuple[str, ...] = ()) -> None:
        """`outer`: the layers already undone around this body (a multipart part's body's)."""
        decoded = content_decode(body, cenc, self.max_decoded)
        result.notes += [note.replace("body:", f"{where}:", 1) for note in decoded.notes]
        data, chain = decoded.data, outer + decoded.chain
        declared, ctype = ctype, ctype.lower()
        if ctype.startswith("multipart/"):
            parts = multipart_parts(data, declared)
            if parts:
                for name, part_type, content in parts:
                    self._scan_body(content, part_type or "", None, f"{where}:{name}", result, chain)
                return
        flat = self.scan_text(data, where, chain)
        if self.patterns and len(data) > self.pattern_max_bytes:
            result.notes.append(f"{where}: identifier patterns checked on the first {self.pattern_max_bytes} "
                                f"of {len(data)} bytes (canaries on all of them)")
        leaves = None
        if (
            flat
            or "proto" in ctype
            or "grpc" in ctype
            # `b"\\" in` is a memchr; a two-byte `in` reads a 1 MB body in ~1 ms
            or ("json" in ctype and b"\\" in data and (b"\\u" in data or b"\\/" in data))
            or ("x-www-form-urlencoded" in ctype and b"%" in data)
        ):
            leaves = self._structure(data, ctype, where, result)
        if leaves is None:
            if "json" in ctype and not _looks_like_json(data):
                result.notes.append(f"{where}: declared JSON but is not (bad UTF-8 or shape); scanned as text")
            result.findings += flat
            return
        structured: list[Finding] = []
        for leaf_where, value in leaves:
            structured += self.scan_text(value, leaf_where, chain, patterns=False)
        if self.patterns and "x-www-form-urlencoded" in ctype and b"%" in data:
            # shapes as the form's fields hold them (`imsi%3D...`, `%2B9198...`), one pass
            structured += self._patterns(unquote_to_bytes(data.replace(b"+", b" ")), where, chain)
        # The flat pass read the structure's own framing too (a form's %-escapes): a value
        # the walk found is reported where the walk found it, and as the field holds it.
        walked = {(f.type, f.id) for f in structured}
        result.findings += structured + [f for f in flat if (f.type, f.id) not in walked]

    def _structure(self, data: bytes, ctype: str, where: str, result: ScanResult) -> list[tuple[str, bytes]] | None:
        leaves = json_leaves(data, where)
        if leaves is not None:
            return list(leaves)
        if "x-www-form-urlencoded" in ctype:
            return list(form_fields(data, where))
        if "protobuf" in ctype or "grpc" in ctype or "proto" in ctype:
            found: list[tuple[str, bytes]] = []
            try:
                for item in protobuf_strings(data[5:] if "grpc" in ctype else data, where):
                    found.append(item)
            except ProtobufError as e:
                result.notes.append(f"{where}: protobuf wire format did not parse ({e}); scanned as bytes")
            return found or None
        return None




def _outermost(matches: list[tuple[int, int, Needle]]) -> list[tuple[int, int, Needle]]:
    """The matches not inside a longer match of the same value, in order of their end."""
    kept = []
    reach: dict[tuple[str, str], int] = {}  # (type, id) -> the furthest end kept so far
    for start, end, needle in sorted(matches, key=lambda m: (m[0], -m[1])):
        key = (needle.type, needle.id)
        if end > reach.get(key, -1):
            reach[key] = end
            kept.append((start, end, needle))
    kept.sort(key=lambda m: m[1])
    return kept


def _looks_like_json(data: bytes) -> bool:
    """A cheap check (no parse) for the common breakages: bad UTF-8, not an object or array."""
    stripped = data.strip()  # no copy when there is nothing to strip
    if not stripped or (stripped[:1], stripped[-1:]) not in ((b"{", b"}"), (b"[", b"]")):
        return False
    if stripped.isascii():  # ASCII is UTF-8: a read, no decoded copy of a large body
        return True
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (type, id, where, encoding): a value repeated in a body is one finding."""
    seen: dict[tuple[str, str, str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.type, finding.id, finding.where, finding.encoding), finding)
    return list(seen.values())
