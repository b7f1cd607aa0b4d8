"""Reading a HAR file entry by entry, for `lab import`.

A HAR is one JSON document, but only `log.entries` matters and each entry is one flow.
The document's outer levels are walked here and each entry parsed on its own, with a
bound on nesting depth: an entry nested too deeply (100,000 `[`) is skipped and named by
its index and line, and the other entries are imported. Anything else that is not JSON
is a CaptureError naming the line and column.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.io.har import request_to_flow

from harness.capture.bounded_json import TooDeepError, decode_at, value_end
from harness.errors import CaptureError

_SPACE = re.compile(r"[ \t\n\r]*")


class _Cursor:
    """A position in the HAR's text, stepping over JSON punctuation."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def space(self) -> str:
        """Skip white space; the next character ('' at the end)."""
        self.pos = _SPACE.match(self.text, self.pos).end()
        return self.text[self.pos:self.pos + 1]

    def expect(self, char: str, what: str) -> None:
        if self.space() != char:
            raise json.JSONDecodeError(f"expected {what}", self.text, self.pos)
        self.pos += 1

    def value(self) -> Any:
        self.space()
        value, self.pos = decode_at(self.text, self.pos)
        return value

    def skip(self) -> None:
        self.space()
        self.pos = value_end(self.text, self.pos)

    def after_item(self, close: str) -> bool:
        """After a member or item: True at the closing bracket (consumed), False after a comma."""
        char = self.space()
        self.pos += 1
        if char == close:
            return True
        if char != ",":
            raise json.JSONDecodeError(f"expected ',' or '{close}'", self.text, self.pos - 1)
        return False

    def keys(self, where: str) -> Iterator[str]:
        """The keys of the object here; the caller reads or skips each key's value."""
        if self.space() != "{":
            raise CaptureError(f"{where} is not an object")
        self.pos += 1
        if self.space() == "}":
            self.pos += 1
            return
        while True:
            if self.space() != '"':
                raise json.JSONDecodeError("expected a key", self.text, self.pos)
            key = self.value()
            self.expect(":", "':'")
            yield key
            if self.after_item("}"):
                return

    def items(self, where: str) -> Iterator[int]:
        """The indexes of the array here; the caller reads or skips each item."""
        if self.space() != "[":
            raise CaptureError(f"{where} is not a list")
        self.pos += 1
        if self.space() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            yield index
            if self.after_item("]"):
                return
            index += 1

    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1


def _entries(cursor: _Cursor, skipped: list[str]) -> Iterator[tuple[int, Any]]:
    found = False
    for key in cursor.keys("the HAR"):
        if key != "log":
            cursor.skip()
            continue
        for name in cursor.keys("log"):
            if name != "entries":
                cursor.skip()
                continue
            found = True
            for index in cursor.items("log.entries"):
                cursor.space()
                line = cursor.line()
                try:
                    yield index, cursor.value()
                except TooDeepError as e:
                    skipped.append(
                        f"HAR entry {index} (line {line}): {e.msg} at line {e.lineno}; skipped")
                    cursor.skip()
    if cursor.space():
        raise json.JSONDecodeError("extra data after the HAR", cursor.text, cursor.pos)
    if not found:
        raise CaptureError("no log.entries")


def read_har(source: Path, skipped: list[str]) -> Iterator[mflow.Flow]:
    """The flows of a HAR's entries; an unreadable entry is skipped and named in `skipped`."""
    try:
        text = source.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CaptureError(f"{source}: not a HAR file ({e})") from e
    except OSError as e:
        raise CaptureError(f"{source}: cannot read ({e.strerror or e})") from e
    entries = _entries(_Cursor(text), skipped)
    while True:
        try:
            index, entry = next(entries)
        except StopIteration:
            return
        except json.JSONDecodeError as e:
            raise CaptureError(f"{source}: not a HAR file ({e})") from e
        except CaptureError as e:
            raise CaptureError(f"{source}: not a HAR file ({e})") from e
        try:
            flow = request_to_flow(entry)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            skipped.append(f"HAR entry {index}: unreadable ({type(e).__name__}: {e})")
            continue
        _keep_encoded_body(flow, entry)
        flow.live = False
        yield flow


def _keep_encoded_body(flow: mflow.Flow, entry: dict[str, Any]) -> None:
    """A response body stored in base64 *still compressed* (against the HAR spec, which
    stores it decoded, but some tools write it so) is the body as it was sent:
    mitmproxy's reader would compress it once more by its Content-Encoding, and the
    scanner would then undo one layer too many (`gzip+gzip`). Keep those bytes as the
    raw body when they decode by the declared coding."""
    response = getattr(flow, "response", None)
    content = entry.get("response", {}).get("content", {})
    coding = response.headers.get("content-encoding", "").strip().lower() if response else ""
    if not coding or coding == "identity" or content.get("encoding") != "base64":
        return
    try:
        sent = base64.b64decode(content.get("text", ""), validate=False)
        http.encoding.decode(sent, coding)
    except ValueError:  # binascii.Error is a ValueError; so is a body not in that coding
        return
    response.raw_content = sent
