"""A parser for the subset of POSIX sh that adb clients send to a phone (see ast.py)."""

from __future__ import annotations

from harness.virtual.shell.ast import (
    RESERVED,
    AndOr,
    For,
    Group,
    If,
    ParseError,
    Part,
    Pipeline,
    Redir,
    Seq,
    Simple,
    Tok,
    While,
    Word,
)
from harness.virtual.shell.lexer import tokenize

__all__ = ["AndOr", "For", "Group", "If", "ParseError", "Pipeline", "Redir", "Seq", "Simple",
           "While", "Word", "parse"]

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
