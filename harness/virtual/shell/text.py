"""Text tools: grep, head, tail, wc, xargs, tr, cut, sort, basename, dirname, date, od."""

from __future__ import annotations

import re
import time

from harness.virtual.fs import FsError
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "replace").splitlines(keepends=True)


@command("grep", "egrep", "fgrep")
def grep(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    fixed = argv[0] == "fgrep"
    invert = ignore = count = quiet = only = False
    pattern = None
    patterns: list[str] = []
    files: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-e" and i + 1 < len(args):
            patterns.append(args[i + 1])
            i += 2
            continue
        if a.startswith("-") and len(a) > 1 and all(c in "vicqFoEwnsh" for c in a[1:]):
            for c in a[1:]:
                invert |= c == "v"
                ignore |= c == "i"
                count |= c == "c"
                quiet |= c == "q"
                fixed |= c == "F"
                only |= c == "o"
        elif pattern is None:
            pattern = a
        else:
            files.append(a)
        i += 1
    if patterns:
        if pattern is not None:
            files.insert(0, pattern)
        pattern = "|".join(re.escape(p) if fixed else p for p in patterns)
        fixed = False
    if pattern is None:
        raise Usage("grep: Needs 1 argument", 2)
    try:
        rx = re.compile(re.escape(pattern) if fixed else pattern.replace(r"\|", "|"), re.I if ignore else 0)
    except re.error as e:
        raise Usage(f"grep: bad regex '{pattern}': {e}", 2) from e
    data = io.stdin
    if files:
        try:
            data = b"".join(sh.state.files.read(sh.path(f)) for f in files)
        except FsError as e:
            raise Usage(f"grep: {files[0]}: No such file or directory", 2) from e
    hits = [line for line in _lines(data) if bool(rx.search(line)) != invert]
    if quiet:
        return 0 if hits else 1
    if count:
        io.write(f"{len(hits)}\n")
    elif only:
        for line in hits:
            for m in rx.finditer(line):
                io.write(m.group(0) + "\n")
    else:
        io.write("".join(line if line.endswith("\n") else line + "\n" for line in hits))
    return 0 if hits else 1


def _count_arg(args: list[str], default: int = 10) -> tuple[int, list[str]]:
    n = default
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-n" and i + 1 < len(args):
            n = int(args[i + 1].lstrip("+"))
            i += 2
            continue
        if re.fullmatch(r"-n?\d+", a):
            n = int(a.lstrip("-n"))
        elif a.startswith("-n") and a[2:].lstrip("+").isdigit():
            n = int(a[2:].lstrip("+"))
        else:
            rest.append(a)
        i += 1
    return n, rest


@command("head", "tail")
def head_tail(sh: Shell, argv: list[str], io: IO) -> int:
    plus = any(a.startswith("+") or a.startswith("-n+") for a in argv[1:]) or (
        "-n" in argv and argv.index("-n") + 1 < len(argv) and argv[argv.index("-n") + 1].startswith("+"))
    n, files = _count_arg(argv[1:])
    data = b"".join(sh.state.files.read(sh.path(f)) for f in files) if files else io.stdin
    lines = _lines(data)
    if argv[0] == "head":
        chosen = lines[:n]
    else:
        chosen = lines[n - 1:] if plus else (lines[-n:] if n else [])
    io.write("".join(chosen))
    return 0


@command("wc")
def wc(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
    text = io.stdin.decode("utf-8", "replace")
    counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(io.stdin)}
    chosen = [c for c in "lwc" if c in flags] or ["l", "w", "c"]
    io.write(" ".join(str(counts[c]) for c in chosen) + "\n")
    return 0


@command("xargs")
def xargs(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    per = 0
    while args and args[0].startswith("-"):
        if args[0] == "-n" and len(args) > 1:
            per = int(args[1])
            args = args[2:]
        elif args[0].startswith("-n"):
            per = int(args[0][2:])
            args = args[1:]
        else:
            args = args[1:]
    cmd = args or ["echo"]
    items = io.stdin.decode("utf-8", "replace").split()
    if not items:
        return 0
    groups = [items[i:i + per] for i in range(0, len(items), per)] if per else [items]
    status = 0
    for group in groups:
        code = sh.run_argv(cmd + group, IO(b"", io.out, io.err))
        status = status or (123 if code else 0)
    return status


@command("tr")
def tr(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    delete = "-d" in args
    args = [a for a in args if not a.startswith("-")]
    text = io.stdin.decode("utf-8", "replace")

    def chars(spec: str) -> str:
        spec = spec.replace("[:space:]", " \t\n\r\v\f").replace("[:upper:]", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        spec = spec.replace("[:lower:]", "abcdefghijklmnopqrstuvwxyz").replace("\\n", "\n").replace("\\r", "\r")
        return spec

    if delete and args:
        drop = set(chars(args[0]))
        io.write("".join(c for c in text if c not in drop))
    elif len(args) >= 2:
        a, b = chars(args[0]), chars(args[1])
        b = b + b[-1:] * max(0, len(a) - len(b))
        io.write(text.translate(str.maketrans(a, b[:len(a)])))
    else:
        io.write(text)
    return 0


@command("cut")
def cut(sh: Shell, argv: list[str], io: IO) -> int:
    delim, fields = "\t", "1"
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-d"):
            delim = a[2:] or args[i + 1]
            i += 0 if a[2:] else 1
        elif a.startswith("-f"):
            fields = a[2:] or args[i + 1]
            i += 0 if a[2:] else 1
        i += 1
    wanted = [int(f) for f in fields.split(",") if f.isdigit()]
    for line in _lines(io.stdin):
        parts = line.rstrip("\n").split(delim)
        io.write(delim.join(parts[f - 1] for f in wanted if f - 1 < len(parts)) + "\n")
    return 0


@command("sort")
def sort(sh: Shell, argv: list[str], io: IO) -> int:
    lines = [line.rstrip("\n") for line in _lines(io.stdin)]
    lines.sort(reverse="-r" in argv)
    if "-u" in argv:
        lines = list(dict.fromkeys(lines))
    io.write("".join(line + "\n" for line in lines))
    return 0


@command("basename", "dirname")
def basename(sh: Shell, argv: list[str], io: IO) -> int:
    import posixpath

    if len(argv) < 2:
        raise Usage(f"{argv[0]}: Needs 1 argument")
    fn = posixpath.basename if argv[0] == "basename" else posixpath.dirname
    io.write((fn(argv[1].rstrip("/")) or ("/" if argv[0] == "dirname" else "")) + "\n")
    return 0


@command("date")
def date(sh: Shell, argv: list[str], io: IO) -> int:
    fmt = next((a[1:] for a in argv[1:] if a.startswith("+")), None)
    now = time.time() + sh.state.conditions.faults.clock_skew  # the handset's clock
    if fmt:
        io.write(time.strftime(fmt.replace("%s", str(int(now))), time.localtime(now)) + "\n")
    else:
        io.write(time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(now)) + "\n")
    return 0


@command("od")
def od(sh: Shell, argv: list[str], io: IO) -> int:
    """toybox od with `-t x1` (hex bytes, 16 a line), -A n|d|o|x, -N COUNT, -j SKIP."""
    args = argv[1:]
    radix, count, skip, files = "o", None, 0, []
    i = 0
    while i < len(args):
        a, nxt = args[i], args[i + 1] if i + 1 < len(args) else None
        if a in ("-A", "-t", "-N", "-j") and nxt is None:
            raise Usage(f"od: Missing argument to {a}", 1)
        if a == "-A":
            radix = nxt  # type: ignore[assignment]
            i += 1
        elif a == "-t":
            if nxt != "x1":
                raise Usage(f"od: unsupported type '{nxt}' (this od prints -t x1)", 1)
            i += 1
        elif a in ("-N", "-j"):
            if not nxt.isdigit():  # type: ignore[union-attr]
                raise Usage(f"od: invalid number '{nxt}'", 1)
            count, skip = (int(nxt), skip) if a == "-N" else (count, int(nxt))  # type: ignore[arg-type]
            i += 1
        else:
            files.append(a)
        i += 1
    if radix not in ("n", "d", "o", "x"):
        raise Usage(f"od: bad -A '{radix}'", 1)
    try:
        data = b"".join(sh.state.files.read(sh.path(f)) for f in files) if files else io.stdin
    except FsError as e:
        io.error(f"od: {e.path}: {e.text}\n")
        return 1
    data = data[skip:skip + count if count is not None else None]
    offset = {"d": "{:07d}", "o": "{:07o}", "x": "{:06x}"}.get(radix)
    for start in range(0, len(data), 16):
        row = "".join(f" {b:02x}" for b in data[start:start + 16])
        io.write((offset.format(skip + start) if offset else "") + row + "\n")
    if offset:
        io.write(offset.format(skip + len(data)) + "\n")
    return 0
