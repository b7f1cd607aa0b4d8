"""The shell lexer: words made of parts (literal, quoted, $-expansions), operators."""

from __future__ import annotations

from harness.virtual.shell.ast import OPERATORS, ParseError, Part, Tok, Word


# --- lexer ---------------------------------------------------------------------------
def _find_close(src: str, i: int, open_ch: str = "(", close_ch: str = ")") -> int:
    """Index of the char closing a $( started before i; honours quotes and nesting."""
    depth = 1
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = src.find("'", i + 1)
            if j < 0:
                raise ParseError("no closing quote")
            i = j + 1
            continue
        if c == '"':
            i = _skip_dq(src, i + 1)
            continue
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ParseError(f"no closing {close_ch!r}")


def _skip_dq(src: str, i: int) -> int:
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if c == "$" and src.startswith("$(", i):
            i = _find_close(src, i + 2) + 1
            continue
        i += 1
    raise ParseError("no closing quote")


def _dollar(src: str, i: int) -> tuple[Part, int] | None:
    """Parse a $-expansion at src[i] == '$'; None if it is a literal '$'."""
    nxt = src[i + 1] if i + 1 < len(src) else ""
    if nxt == "(":
        end = _find_close(src, i + 2)
        return Part("cmd", src[i + 2:end]), end + 1
    if nxt == "{":
        end = src.find("}", i + 2)
        if end < 0:
            raise ParseError("missing }")
        return Part("var", src[i + 2:end]), end + 1
    if nxt and (nxt in "?$#@*!-" or nxt.isdigit()):
        return Part("var", nxt), i + 2
    j = i + 1
    while j < len(src) and (src[j].isalnum() or src[j] == "_"):
        j += 1
    if j == i + 1:
        return None
    return Part("var", src[i + 1:j]), j


def _dq_parts(body: str) -> list[Part]:
    parts: list[Part] = []
    buf: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body) and body[i + 1] in '$`"\\\n':
            if body[i + 1] != "\n":
                buf.append(body[i + 1])
            i += 2
            continue
        if c == "$":
            got = _dollar(body, i)
            if got:
                if buf:
                    parts.append(Part("lit", "".join(buf)))
                    buf = []
                parts.append(got[0])
                i = got[1]
                continue
        if c == "`":
            end = body.find("`", i + 1)
            if end < 0:
                raise ParseError("no closing `")
            if buf:
                parts.append(Part("lit", "".join(buf)))
                buf = []
            parts.append(Part("cmd", body[i + 1:end]))
            i = end + 1
            continue
        buf.append(c)
        i += 1
    if buf:
        parts.append(Part("lit", "".join(buf)))
    return parts


def _flush(parts: list[Part], buf: list[str]) -> None:
    if buf:
        parts.append(Part("lit", "".join(buf)))
        buf.clear()


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\r":
            i += 1
            continue
        if c == "\\" and src.startswith("\\\n", i):
            i += 2
            continue
        if c == "#":
            while i < n and src[i] != "\n":
                i += 1
            continue
        op = next((o for o in OPERATORS if src.startswith(o, i)), None)
        if op:
            toks.append(Tok("op", op))
            i += len(op)
            continue
        parts: list[Part] = []
        buf: list[str] = []

        while i < n:
            c = src[i]
            if c in " \t\r\n;&|()<>":
                break
            if c == "\\":
                if i + 1 < n and src[i + 1] == "\n":
                    i += 2
                    continue
                _flush(parts, buf)
                parts.append(Part("sq", src[i + 1] if i + 1 < n else ""))
                i += 2
            elif c == "'":
                end = src.find("'", i + 1)
                if end < 0:
                    raise ParseError("no closing quote")
                _flush(parts, buf)
                parts.append(Part("sq", src[i + 1:end]))
                i = end + 1
            elif c == '"':
                end = _skip_dq(src, i + 1)
                _flush(parts, buf)
                parts.append(Part("dq", parts=_dq_parts(src[i + 1:end - 1])))
                i = end
            elif c == "`":
                end = src.find("`", i + 1)
                if end < 0:
                    raise ParseError("no closing `")
                _flush(parts, buf)
                parts.append(Part("cmd", src[i + 1:end]))
                i = end + 1
            elif c == "$":
                got = _dollar(src, i)
                if got is None:
                    buf.append(c)
                    i += 1
                else:
                    _flush(parts, buf)
                    parts.append(got[0])
                    i = got[1]
            else:
                buf.append(c)
                i += 1
        _flush(parts, buf)
        text = "".join(p.text for p in parts) if all(p.kind == "lit" for p in parts) else None
        if text and text.isdigit() and i < n and src[i] in "<>":
            toks.append(Tok("ionum", text))
        else:
            toks.append(Tok("word", word=Word(parts)))
    return toks


