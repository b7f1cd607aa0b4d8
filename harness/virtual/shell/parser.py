"""A parser for the subset of POSIX sh that adb clients send to a phone.

Supported: simple commands with assignments and redirections (`>`, `>>`, `<`, `2>`,
`2>&1`, `>&2`), pipelines, `&&`, `||`, `;`, `&`, newlines, comments, `!`, `{ }`, `( )`,
`if/elif/else/fi`, `for/in/do/done`, `while`/`until`; words with '...', "...", \\ escapes,
$VAR, ${VAR}, ${VAR:-x}, $?, $$, $#, $@, $(...), `...`. Errors raise ParseError with
mksh-like text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RESERVED = {"if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "until",
            "case", "esac", "{", "}", "!"}
OPERATORS = ["&&", "||", ";;", ">>", ">&", "<&", "<<", ";", "&", "|", "(", ")", "<", ">", "\n"]


class ParseError(Exception):
    pass


@dataclass
class Part:
    kind: str  # lit | sq | dq | var | cmd
    text: str = ""
    parts: list[Part] = field(default_factory=list)  # for dq


@dataclass
class Word:
    parts: list[Part]

    def literal(self) -> str | None:
        """The text if the word is one unquoted literal (for reserved words), else None."""
        if len(self.parts) == 1 and self.parts[0].kind == "lit":
            return self.parts[0].text
        return None


@dataclass
class Tok:
    kind: str  # word | op | ionum
    value: str = ""
    word: Word | None = None


@dataclass
class Redir:
    fd: int
    op: str
    target: Word


@dataclass
class Simple:
    assigns: list[tuple[str, Word]]
    words: list[Word]
    redirs: list[Redir]


@dataclass
class Pipeline:
    cmds: list[object]
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]


@dataclass
class Seq:
    items: list[tuple[AndOr, bool]]  # (and-or list, background)


@dataclass
class If:
    branches: list[tuple[Seq, Seq]]
    orelse: Seq | None


@dataclass
class For:
    name: str
    words: list[Word] | None
    body: Seq


@dataclass
class While:
    cond: Seq
    body: Seq
    until: bool


@dataclass
class Group:
    body: Seq
    subshell: bool
    redirs: list[Redir] = field(default_factory=list)


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


# --- parser --------------------------------------------------------------------------
class Parser:
    def __init__(self, src: str) -> None:
        self.toks = tokenize(src)
        self.pos = 0

    def peek(self) -> Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def is_op(self, *ops: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "op" and t.value in ops

    def is_word(self, *words: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "word" and t.word is not None and t.word.literal() in words

    def take(self) -> Tok:
        t = self.peek()
        if t is None:
            raise ParseError("unexpected end of file")
        self.pos += 1
        return t

    def expect_word(self, word: str) -> None:
        if not self.is_word(word):
            t = self.peek()
            got = "end of file" if t is None else (t.value or (t.word and t.word.literal()) or "word")
            raise ParseError(f"syntax error: '{got}' unexpected")
        self.pos += 1

    def skip_newlines(self) -> None:
        while self.is_op("\n"):
            self.pos += 1

    def parse(self) -> Seq:
        seq = self.seq(())
        if self.peek() is not None:
            t = self.take()
            raise ParseError(f"syntax error: '{t.value or (t.word and t.word.literal()) or 'word'}' unexpected")
        return seq

    def seq(self, stops: tuple[str, ...]) -> Seq:
        items: list[tuple[AndOr, bool]] = []
        while True:
            self.skip_newlines()
            t = self.peek()
            if t is None or self.is_word(*stops) or self.is_op(")", ";;"):
                return Seq(items)
            ao = self.and_or()
            bg = False
            if self.is_op("&"):
                self.pos += 1
                bg = True
            elif self.is_op(";", "\n"):
                self.pos += 1
            items.append((ao, bg))

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.is_op("&&", "||"):
            op = self.take().value
            self.skip_newlines()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest)

    def pipeline(self) -> Pipeline:
        negate = False
        if self.is_word("!"):
            self.pos += 1
            negate = True
        cmds = [self.command()]
        while self.is_op("|"):
            self.pos += 1
            self.skip_newlines()
            cmds.append(self.command())
        return Pipeline(cmds, negate)

    def command(self) -> object:
        if self.is_word("if"):
            return self.if_()
        if self.is_word("for"):
            return self.for_()
        if self.is_word("while", "until"):
            until = self.take().word.literal() == "until"  # type: ignore[union-attr]
            cond = self.seq(("do",))
            self.expect_word("do")
            body = self.seq(("done",))
            self.expect_word("done")
            return While(cond, body, until)
        if self.is_word("{"):
            self.pos += 1
            body = self.seq(("}",))
            self.expect_word("}")
            return Group(body, False, self.redirs())
        if self.is_op("("):
            self.pos += 1
            body = self.seq(())
            if not self.is_op(")"):
                raise ParseError("syntax error: missing ')'")
            self.pos += 1
            return Group(body, True, self.redirs())
        return self.simple()

    def redirs(self) -> list[Redir]:
        out: list[Redir] = []
        while True:
            t = self.peek()
            if t is None:
                return out
            fd = None
            if t.kind == "ionum":
                fd = int(t.value)
                self.pos += 1
                t = self.peek()
            if t is None or t.kind != "op" or t.value not in (">", ">>", "<", ">&", "<&"):
                if fd is not None:
                    raise ParseError("syntax error: bad redirection")
                return out
            self.pos += 1
            target = self.take()
            if target.kind != "word" or target.word is None:
                raise ParseError(f"syntax error: '{target.value}' unexpected")
            default = 0 if t.value in ("<", "<&") else 1
            out.append(Redir(default if fd is None else fd, t.value, target.word))

    def simple(self) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirs: list[Redir] = []
        while True:
            t = self.peek()
            if t is None:
                break
            if t.kind == "ionum" or (t.kind == "op" and t.value in (">", ">>", "<", ">&", "<&")):
                redirs += self.redirs()
                continue
            if t.kind != "word" or t.word is None:
                break
            lit0 = t.word.parts[0].text if t.word.parts and t.word.parts[0].kind == "lit" else ""
            if not words and "=" in lit0 and lit0.split("=", 1)[0].isidentifier():
                name, rest = lit0.split("=", 1)
                parts = ([Part("lit", rest)] if rest else []) + t.word.parts[1:]
                assigns.append((name, Word(parts)))
                self.pos += 1
                continue
            if not words and t.word.literal() in RESERVED - {"{", "}", "!", "in"}:
                break
            words.append(t.word)
            self.pos += 1
        if not words and not assigns and not redirs:
            t = self.peek()
            got = "end of file" if t is None else (t.value if t.kind == "op" else t.word.literal() if t.word else "")
            raise ParseError(f"syntax error: '{'newline' if got == chr(10) else got}' unexpected")
        return Simple(assigns, words, redirs)

    def if_(self) -> If:
        self.expect_word("if")
        branches = []
        cond = self.seq(("then",))
        self.expect_word("then")
        body = self.seq(("elif", "else", "fi"))
        branches.append((cond, body))
        orelse = None
        while True:
            if self.is_word("elif"):
                self.pos += 1
                cond = self.seq(("then",))
                self.expect_word("then")
                branches.append((cond, self.seq(("elif", "else", "fi"))))
            elif self.is_word("else"):
                self.pos += 1
                orelse = self.seq(("fi",))
            else:
                self.expect_word("fi")
                return If(branches, orelse)

    def for_(self) -> For:
        self.expect_word("for")
        t = self.take()
        name = t.word.literal() if t.word else None
        if not name or not name.isidentifier():
            raise ParseError("syntax error: bad for loop variable")
        words: list[Word] | None = None
        self.skip_newlines()
        if self.is_word("in"):
            self.pos += 1
            words = []
            while self.peek() is not None and self.peek().kind == "word":  # type: ignore[union-attr]
                words.append(self.take().word)  # type: ignore[arg-type]
        if self.is_op(";", "\n"):
            self.pos += 1
        self.skip_newlines()
        self.expect_word("do")
        body = self.seq(("done",))
        self.expect_word("done")
        return For(name, words, body)


def parse(src: str) -> Seq:
    return Parser(src).parse()
