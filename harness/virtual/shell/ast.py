"""The syntax tree (and tokens) of the subset of POSIX sh that adb clients send to a phone.

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
