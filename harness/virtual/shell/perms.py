"""Ownership and modes: chmod, chown/chgrp, chcon, touch."""

from __future__ import annotations

import posixpath
import time

from harness.virtual.fs import Dir, FsError, Node
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.files import check_write, parse_user, split_flags
from harness.virtual.shell.interp import Shell, command


def _apply_mode(old: int, spec: str) -> int:
    if all(c in "01234567" for c in spec):
        return int(spec, 8)
    mode = old & 0o7777
    for clause in spec.split(","):
        who = ""
        while clause and clause[0] in "ugoa":
            who, clause = who + clause[0], clause[1:]
        if not clause or clause[0] not in "+-=":
            raise Usage(f"chmod: bad mode '{spec}'")
        op, perms = clause[0], clause[1:]
        who = who or "a"
        bits = 0
        for w in who:
            shift = {"u": 6, "g": 3, "o": 0, "a": -1}[w]
            for p in perms:
                val = {"r": 4, "w": 2, "x": 1}.get(p, 0)
                for s in ([6, 3, 0] if shift < 0 else [shift]):
                    bits |= val << s
        if op == "+":
            mode |= bits
        elif op == "-":
            mode &= ~bits
        else:
            mode = bits
    return mode


def _each_target(sh: Shell, paths: list[str], recursive: bool) -> list[tuple[str, Node]]:
    fs = sh.state.files
    out: list[tuple[str, Node]] = []
    for p in paths:
        node = fs.lookup(sh.path(p))
        if node is None:
            raise FsError("ENOENT", p)
        out.append((p, node))
        if recursive and isinstance(node, Dir):
            out += _each_target(sh, [posixpath.join(p, n) for n in node.children], True)
    return out


@command("chmod")
def chmod(sh: Shell, argv: list[str], io: IO) -> int:
    flags, args = split_flags(argv[1:], "Rfv")
    if len(args) < 2:
        raise Usage("chmod: Needs 2 arguments")
    for p, node in _each_target(sh, args[1:], "R" in flags):
        if sh.uid != 0 and node.uid != sh.uid:
            raise Usage(f"chmod: {p}: Operation not permitted")
        node.mode = (node.mode & ~0o7777) | _apply_mode(node.mode, args[0])
    return 0


@command("chown", "chgrp")
def chown(sh: Shell, argv: list[str], io: IO) -> int:
    flags, args = split_flags(argv[1:], "RhfvL")
    if len(args) < 2:
        raise Usage(f"{argv[0]}: Needs 2 arguments")
    owner = args[0]
    if argv[0] == "chgrp":
        owner = ":" + owner
    user, _, group = owner.partition(":") if ":" in owner else owner.partition(".")
    uid = parse_user(user) if user else None
    gid = parse_user(group) if group else None
    for p, node in _each_target(sh, args[1:], "R" in flags):
        if sh.uid != 0:
            raise Usage(f"{argv[0]}: {p}: Operation not permitted")
        if uid is not None:
            node.uid = uid
        if gid is not None:
            node.gid = gid
    return 0


@command("chcon")
def chcon(sh: Shell, argv: list[str], io: IO) -> int:
    flags, args = split_flags(argv[1:], "Rhv")
    if len(args) < 2:
        raise Usage("chcon: Needs 2 arguments")
    for p, node in _each_target(sh, args[1:], "R" in flags):
        if sh.uid != 0:
            raise Usage(f"chcon: '{args[0]}' to {p}: Permission denied")
        node.label = args[0]
    return 0


@command("touch")
def touch(sh: Shell, argv: list[str], io: IO) -> int:
    _, paths = split_flags(argv[1:], "acmh")
    for p in paths:
        node = sh.state.files.lookup(sh.path(p))
        if node is not None:
            node.mtime = int(time.time())
            continue
        check_write(sh, "touch", p)
        sh.state.files.write(sh.path(p), b"", 0o644 if sh.uid else 0o600, sh.uid, sh.uid)
    return 0
