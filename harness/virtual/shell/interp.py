"""Runs parsed shell scripts over the handset state (one Shell per adb shell session).

Commands live in the modules that shell/__init__.py imports; each registers itself in
COMMANDS with the `command` decorator, and `Shell.run_argv` looks names up there."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from harness.virtual.fs import File, FsError, norm
from harness.virtual.shell import access, expand
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.executables import elf_problem
from harness.virtual.shell.parser import (
    AndOr,
    For,
    Group,
    If,
    ParseError,
    Pipeline,
    Redir,
    Seq,
    Simple,
    While,
    Word,
    parse,
)

if TYPE_CHECKING:
    from harness.virtual.state import HandsetState

log = logging.getLogger(__name__)
SH = "/system/bin/sh"
BIN_DIRS = {"/system/bin", "/bin", "/system/xbin", "/vendor/bin", "/sbin", "/product/bin",
            "/apex/com.android.runtime/bin"}
MAX_DEPTH = 24
MAX_LOOP = 10000


class ShellHost(Protocol):
    """What the shell needs from the handset: its state, its app host, a reboot."""

    state: HandsetState
    apps: Any

    def request_reboot(self) -> None: ...


class ExitShell(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Shell:
    def __init__(self, host: ShellHost, uid: int | None = None, env: dict[str, str] | None = None,
                 cwd: str = "/") -> None:
        self.host = host
        self.state = host.state
        if uid is None:  # adbd's own user: root after `adb root` on a userdebug build
            uid = 0 if getattr(host.state, "adbd_root", False) else 2000
        self.uid = uid
        self.su_context = "u:r:su:s0"
        self.cwd = cwd
        self.env: dict[str, str] = {"PATH": "/product/bin:/apex/com.android.runtime/bin:/system/bin:"
                                    "/system/xbin:/odm/bin:/vendor/bin:/vendor/xbin",
                                    "HOME": "/", "SHELL": SH, "TMPDIR": "/data/local/tmp",
                                    "USER": "root" if uid == 0 else "shell",
                                    "HOSTNAME": self.state.props.get("ro.product.device", "localhost")}
        if env:
            self.env.update(env)
        self.last = 0
        self.errexit = False
        self.depth = 0
        self.positional: list[str] = []

    # --- entry points ----------------------------------------------------------------
    def run_script(self, src: str, stdin: bytes | Callable[[], bytes] = b"") -> tuple[bytes, bytes, int]:
        io = IO(stdin)
        code = self.run_in(src, io)
        return bytes(io.out), bytes(io.err), code

    def run_in(self, src: str, io: IO) -> int:
        try:
            tree = parse(src)
        except RecursionError:
            io.error(f"{SH}: syntax error: nested too deeply\n")
            self.last = 2
            return self.last
        except ParseError as e:
            io.error(f"{SH}: {e}\n")
            self.last = 2 if "unexpected" in str(e) else 1
            return self.last
        try:
            self.last = self.seq(tree, io)
        except ExitShell as e:
            self.last = e.code
        except RecursionError:
            io.error(f"{SH}: too deep\n")
            self.last = 2
        return self.last

    def child(self, uid: int | None = None) -> Shell:
        sub = Shell(self.host, self.uid if uid is None else uid, dict(self.env), self.cwd)
        sub.depth = self.depth + 1
        sub.su_context = self.su_context
        return sub

    # --- execution -------------------------------------------------------------------
    def seq(self, seq: Seq, io: IO, cond: bool = False) -> int:
        status = self.last
        for ao, _background in seq.items:
            status = self.and_or(ao, io, cond)
            if self.errexit and status != 0 and not cond and not ao.rest:
                raise ExitShell(status)
        return status

    def and_or(self, ao: AndOr, io: IO, cond: bool) -> int:
        status = self.pipeline(ao.first, io, cond or bool(ao.rest))
        for i, (op, pipe) in enumerate(ao.rest):
            if (op == "&&") == (status == 0):
                status = self.pipeline(pipe, io, cond or i < len(ao.rest) - 1)
        return status

    def pipeline(self, pipe: Pipeline, io: IO, cond: bool) -> int:
        data = io.lazy_stdin()
        status = 0
        for i, cmd in enumerate(pipe.cmds):
            last = i == len(pipe.cmds) - 1
            sub = IO(data, io.out if last else bytearray(), io.err)
            status = self.command(cmd, sub, cond)
            data = bytes(sub.out)
        self.last = (0 if status else 1) if pipe.negate else status
        return self.last

    def command(self, cmd: object, io: IO, cond: bool) -> int:
        if isinstance(cmd, Simple):
            return self.simple(cmd, io)
        if isinstance(cmd, If):
            for c, body in cmd.branches:
                if self.seq(c, io, cond=True) == 0:
                    return self.seq(body, io, cond)
            return self.seq(cmd.orelse, io, cond) if cmd.orelse else 0
        if isinstance(cmd, For):
            values = self.expand_words(cmd.words, io) if cmd.words is not None else list(self.positional)
            status = 0
            for v in values:
                self.env[cmd.name] = v
                status = self.seq(cmd.body, io, cond)
            return status
        if isinstance(cmd, While):
            status = 0
            for _ in range(MAX_LOOP):
                ok = self.seq(cmd.cond, io, cond=True) == 0
                if ok == cmd.until:
                    break
                status = self.seq(cmd.body, io, cond)
            return status
        if isinstance(cmd, Group):
            target = self.child() if cmd.subshell else self
            return self.with_redirs(cmd.redirs, io, lambda sub: target.seq(cmd.body, sub, cond))
        raise TypeError(type(cmd).__name__)

    def simple(self, cmd: Simple, io: IO) -> int:
        argv = self.expand_words(cmd.words, io)
        if not argv:
            for name, word in cmd.assigns:
                self.env[name] = self.expand_str(word, io)
            if cmd.redirs:
                return self.with_redirs(cmd.redirs, io, lambda sub: 0)
            return self.last
        saved = {}
        for name, word in cmd.assigns:
            saved[name] = self.env.get(name)
            self.env[name] = self.expand_str(word, io)
        try:
            return self.with_redirs(cmd.redirs, io, lambda sub: self.run_argv(argv, sub))
        finally:
            for name, old in saved.items():
                if old is None:
                    self.env.pop(name, None)
                else:
                    self.env[name] = old

    def with_redirs(self, redirs: list[Redir], io: IO, body) -> int:  # type: ignore[no-untyped-def]
        if not redirs:
            return body(io)
        sub = IO(io.lazy_stdin())
        outputs: list[tuple[int, str, bool]] = []
        merge_err_to_out = merge_out_to_err = False
        for r in redirs:
            target = self.expand_str(r.target, io)
            if r.op in (">&", "<&"):
                if r.fd == 2 and target == "1":
                    merge_err_to_out = True
                elif r.fd == 1 and target == "2":
                    merge_out_to_err = True
                continue
            if r.op == "<":
                try:
                    sub.stdin = self.state.files.read(self.path(target))
                except FsError as e:
                    io.error(f"{SH}: can't open '{target}': {e.text}\n")
                    return 1
                continue
            outputs.append((r.fd, target, r.op == ">>"))
        status = body(sub)
        out, err = bytes(sub.out), bytes(sub.err)
        if merge_err_to_out:
            out, err = out + err, b""
        if merge_out_to_err:
            out, err = b"", err + out
        streams = {1: out, 2: err}
        for fd, target, append in outputs:
            data = streams.get(fd, b"")
            streams[fd] = b""
            if target == "/dev/null":
                continue
            problem = self.write_problem(target)
            if problem:
                io.error(f"{SH}: can't create {target}: {problem}\n")
                return 1
            try:
                self.state.files.write(self.path(target), data, append=append,
                                       uid=self.uid, gid=self.uid)
            except FsError as e:
                io.error(f"{SH}: can't create {target}: {e.text}\n")
                return 1
        io.out += streams[1]
        io.err += streams[2]
        return status

    def run_argv(self, argv: list[str], io: IO) -> int:
        if self.depth > MAX_DEPTH:
            io.error(f"{SH}: too deep\n")
            return 1
        name = argv[0]
        base = name
        if "/" in name:
            head, tail = posixpath.split(name)
            if head in BIN_DIRS and tail in COMMANDS:
                base = tail
            else:
                return self.exec_file(name, argv, io)
        fn = COMMANDS.get(base)
        if fn is None:
            io.error(f"{SH}: {name}: inaccessible or not found\n")
            return 127
        try:
            if base in ("am", "monkey", "reboot", "pidof", "ps", "frida-server"):
                return fn(self, argv, io)
            with self.state.lock:
                return fn(self, argv, io)
        except Usage as e:
            if str(e):
                io.error(str(e).rstrip("\n") + "\n")
            return e.code
        except FsError as e:
            io.error(f"{base}: {e.path}: {e.text}\n")
            return 1
        except (ValueError, IndexError, KeyError, TypeError, UnicodeError, OverflowError) as e:
            # Arguments no real tool would accept: answer like a failing command, log it.
            log.warning("command %r failed on %r: %r", base, argv, e)
            io.error(f"{base}: {e}\n")
            return 1

    def exec_file(self, name: str, argv: list[str], io: IO) -> int:
        node = self.state.files.lookup(self.path(name))
        if not isinstance(node, File):
            io.error(f"{SH}: {name}: inaccessible or not found\n")
            return 127
        if not node.mode & 0o111:
            io.error(f"{SH}: {name}: can't execute: Permission denied\n")
            return 126
        if node.data.startswith(b"\x7fELF"):
            problem = elf_problem(node.data, self.state.props.get("ro.product.cpu.abilist", ""))
            if problem is not None:  # another architecture: the kernel refuses, mksh says why
                io.error(f"{SH}: {name}: {problem}\n")
                return 126
        if posixpath.basename(name).startswith("frida-server") and "frida-server" in COMMANDS:
            return COMMANDS["frida-server"](self, argv, io)
        if node.data.startswith(b"\x7fELF"):
            io.error(f"{SH}: {name}: can't execute: Exec format error\n")
            return 126
        sub = self.child()
        sub.positional = argv[1:]
        return sub.run_in(node.data.decode("utf-8", "replace"), io)

    # --- expansion -------------------------------------------------------------------
    def var(self, name: str) -> str:
        if name == "?":
            return str(self.last)
        if name == "$":
            return "5014"
        if name == "!":
            return "5015"
        if name == "#":
            return str(len(self.positional))
        if name in ("@", "*"):
            return " ".join(self.positional)
        if name.isdigit():
            i = int(name)
            return "sh" if i == 0 else (self.positional[i - 1] if i <= len(self.positional) else "")
        for op in (":-", ":=", "-"):
            if op in name:
                key, default = name.split(op, 1)
                value = self.env.get(key, "")
                if value == "" and (op != "-" or key not in self.env):
                    if op == ":=":
                        self.env[key] = default
                    return default
                return value
        if name.startswith("#"):
            return str(len(self.env.get(name[1:], "")))
        return self.env.get(name, "")

    def substitute(self, src: str, io: IO) -> str:
        sub = self.child()
        sub_io = IO(b"", bytearray(), io.err)
        sub.run_in(src, sub_io)
        self.last = sub.last
        return bytes(sub_io.out).decode("utf-8", "replace").rstrip("\n")

    def _part_text(self, part, io: IO) -> str:  # type: ignore[no-untyped-def]
        if part.kind in ("lit", "sq"):
            return part.text
        if part.kind == "var":
            return self.var(part.text)
        if part.kind == "cmd":
            return self.substitute(part.text, io)
        return "".join(self._part_text(p, io) for p in part.parts)

    def expand_str(self, word: Word, io: IO) -> str:
        return "".join(self._part_text(p, io) for p in word.parts)

    def expand_words(self, words: list[Word] | None, io: IO) -> list[str]:
        return expand.words(words, lambda part: self._part_text(part, io), self.glob)

    def glob(self, pattern: str) -> list[str]:
        return expand.glob(self.state.files, self.path, pattern)

    # --- helpers for commands --------------------------------------------------------
    def path(self, p: str) -> str:
        return norm(p, self.cwd)

    def read_problem(self, target: str) -> str | None:
        """Why this user may not read `target` (None if allowed)."""
        return access.read_problem(self.state.files, self.uid, self.path(target))

    def write_problem(self, target: str) -> str | None:
        """Why this user may not create/modify `target` (None if allowed)."""
        return access.write_problem(self.state.files, self.uid, self.path(target))


Command = Callable[[Shell, list[str], IO], int]
COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    """Register a command function under each of `names` (`@command("ls", "dir")`)."""
    def register(fn: Command) -> Command:
        for name in names:
            COMMANDS[name] = fn
        return fn
    return register
