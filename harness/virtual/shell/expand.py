"""Word expansion after the parts of each word have their text: field splitting of unquoted
substitutions, then pathname expansion (globbing) of unquoted `*?[` against the handset's
files, as toybox sh and mksh do."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable
from typing import Any

from harness.virtual.fs import FsError
from harness.virtual.shell.parser import Word


def words(words: list[Word] | None, text_of: Callable[[Any], str], glob: Callable[[str], list[str]]) -> list[str]:
    """The argument list of `words`: literals and quoted parts kept whole, variable and command
    substitutions split on white space, unquoted patterns expanded by `glob`."""
    out: list[str] = []
    for word in words or []:
        fields: list[list[tuple[str, bool]]] = [[]]  # (text, globbable)
        quoted_any = False
        for part in word.parts:
            if part.kind == "lit":
                fields[-1].append((part.text, True))
            elif part.kind in ("sq", "dq"):
                fields[-1].append((text_of(part), False))
                quoted_any = True
            else:
                value = text_of(part)
                pieces = value.split()
                if not pieces:
                    continue
                if value[:1].isspace() and fields[-1]:
                    fields.append([])
                fields[-1].append((pieces[0], False))
                for piece in pieces[1:]:
                    fields.append([(piece, False)])
                if value[-1:].isspace():
                    fields.append([])
        for f in fields:
            if not f and not quoted_any:
                continue
            text = "".join(t for t, _ in f)
            globbable = any(g and any(ch in t for ch in "*?[") for t, g in f)
            out.extend(glob(text) if globbable else [text])
    return out


def glob(files: Any, resolve: Callable[[str], str], pattern: str) -> list[str]:
    """Names in one directory matching the last component of `pattern` (hidden ones only for
    a pattern that starts with a dot), sorted; the pattern itself when nothing matches."""
    head, tail = posixpath.split(pattern)
    if any(ch in head for ch in "*?["):
        return [pattern]
    try:
        names = [n for n, _ in files.listdir(resolve(head or "."))]
    except FsError:
        return [pattern]
    hits = sorted(n for n in names if fnmatch.fnmatchcase(n, tail) and (tail.startswith(".") or not n.startswith(".")))
    if not hits:
        return [pattern]
    return [posixpath.join(head, n) if head else n for n in hits]
