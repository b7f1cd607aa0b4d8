"""JSON parsing with a bound on nesting depth, for files a harness reads but did not write.

Python's json module recurses once per level of nesting: 100,000 `[` in a flows.jsonl
line, a HAR or a journal would raise RecursionError (not a JSONDecodeError) and stop a
report, an import or a restore. Here a document nested more than MAX_DEPTH levels deep is
a TooDeepError, a json.JSONDecodeError, so every `except json.JSONDecodeError` treats it
as one more unreadable document, with the line and column where the limit is passed.
Nothing the harness writes comes near the limit (its records nest a few levels deep).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100

# a JSON string (escapes included), or one bracket: what decides nesting outside strings
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_DECODER = json.JSONDecoder()


class TooDeepError(json.JSONDecodeError):
    """A JSON document nested deeper than the limit; `pos` is where the limit is passed."""

    def __init__(self, doc: str, pos: int, limit: int):
        super().__init__(f"nested more than {limit} levels deep", doc, pos)
        self.limit = limit


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for one document of `text`, refusing more than `max_depth` levels."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(text, 0, max_depth) from None
    _check_depth(text, 0, len(text), value, max_depth)
    return value


def decode_at(text: str, pos: int, max_depth: int = MAX_DEPTH) -> tuple[Any, int]:
    """The JSON value starting at `text[pos]` and the index just past it (raw_decode)."""
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except RecursionError:
        raise _too_deep(text, pos, max_depth) from None
    _check_depth(text, pos, end, value, max_depth)
    return value, end


def value_end(text: str, pos: int) -> int:
    """The index just past the JSON value at `text[pos]`, found without building it.

    Strings and brackets are matched, nothing else is checked: this skips a value that
    is too deep to parse. A container left open at the end of `text` is a JSONDecodeError.
    """
    if text[pos:pos + 1] not in ("[", "{"):
        return _DECODER.raw_decode(text, pos)[1]
    depth = 0
    for match in _TOKEN.finditer(text, pos):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
            if depth == 0:
                return match.end()
    raise json.JSONDecodeError("unterminated array or object", text, pos)


def _check_depth(text: str, start: int, end: int, value: Any, limit: int) -> None:
    # Fewer brackets than the limit (strings' included) cannot nest past it: no walk.
    if text.count("[", start, end) + text.count("{", start, end) <= limit:
        return
    if _deeper_than(value, limit):
        raise _too_deep(text, start, limit)


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _too_deep(text: str, start: int, limit: int) -> TooDeepError:
    """The error, placed at the bracket that opens level limit + 1."""
    depth = 0
    for match in _TOKEN.finditer(text, start):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return TooDeepError(text, match.start(), limit)
        elif token in ("]", "}"):
            depth -= 1
    return TooDeepError(text, start, limit)
