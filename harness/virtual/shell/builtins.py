"""Shell builtins and text tools: echo, printf, cd, exit, set, sh, su, id, grep, head,
tail, wc, xargs, tr, cut, sort, uname, which, sleep, wait, kill."""

from __future__ import annotations

import re
import time

from harness.virtual.fs import FsError
from harness.virtual.shell.interp import COMMANDS, ExitShell, Shell
from harness.virtual.shell.registry import IO, Usage, command

SHELL_GROUPS = ("2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),1028(sdcard_r),"
                "1078(ext_data_rw),1079(ext_obb_rw),3001(net_bt_admin),3002(net_bt),3003(inet),"
                "3006(net_bw_stats),3009(readproc),3011(uhid),3012(readtracefs)")


@command("true", ":")
def true_(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("false")
def false_(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


@command("echo")
def echo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = "e" in args[0]
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text = text.encode("utf-8").decode("unicode_escape", "replace")
    io.write(text + ("\n" if newline else ""))
    return 0


@command("printf")
def printf(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise Usage("printf: Needs 1 argument")
    fmt = argv[1].encode().decode("unicode_escape", "replace")
    args = argv[2:]
    conv = re.findall(r"%[-0-9.]*[sdxoc%]", fmt)
    count = len([c for c in conv if c != "%%"])
    try:
        if not count:
            io.write(fmt.replace("%%", "%"))
            return 0
        for start in range(0, max(len(args), 1), count):
            chunk = args[start:start + count]
            chunk += [""] * (count - len(chunk))
            values: list[object] = []
            for c, v in zip([c for c in conv if c != "%%"], chunk, strict=False):
                values.append(int(v or 0) if c[-1] in "dxo" else v)
            io.write(fmt % tuple(values))
    except (ValueError, TypeError) as e:
        raise Usage(f"printf: {e}") from e
    return 0


@command("cd")
def cd(sh: Shell, argv: list[str], io: IO) -> int:
    target = argv[1] if len(argv) > 1 else "/"
    node = sh.state.files.lookup(sh.path(target))
    if node is None or not node.is_dir:
        raise Usage(f"/system/bin/sh: cd: /{target.lstrip('/')}: No such file or directory", 2)
    sh.cwd = sh.path(target)
    return 0


@command("pwd")
def pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.write(sh.cwd + "\n")
    return 0


@command("exit")
def exit_(sh: Shell, argv: list[str], io: IO) -> int:
    code = int(argv[1]) & 0xFF if len(argv) > 1 and argv[1].lstrip("-").isdigit() else sh.last
    raise ExitShell(code)


@command("set")
def set_(sh: Shell, argv: list[str], io: IO) -> int:
    for a in argv[1:]:
        if a.startswith("-") and "e" in a:
            sh.errexit = True
        elif a.startswith("+") and "e" in a:
            sh.errexit = False
    if len(argv) == 1:
        for k, v in sorted(sh.env.items()):
            io.write(f"{k}={v}\n")
    return 0


@command("export", "readonly", "local")
def export(sh: Shell, argv: list[str], io: IO) -> int:
    for a in argv[1:]:
        if "=" in a:
            k, v = a.split("=", 1)
            sh.env[k] = v
    return 0


@command("unset")
def unset(sh: Shell, argv: list[str], io: IO) -> int:
    for a in argv[1:]:
        sh.env.pop(a, None)
    return 0


@command("env", "printenv")
def env(sh: Shell, argv: list[str], io: IO) -> int:
    if argv[0] == "printenv" and len(argv) > 1:
        if argv[1] not in sh.env:
            return 1
        io.write(sh.env[argv[1]] + "\n")
        return 0
    for k, v in sorted(sh.env.items()):
        io.write(f"{k}={v}\n")
    return 0


@command("wait", "sync", "setenforce")
def noop(sh: Shell, argv: list[str], io: IO) -> int:
    if argv[0] == "setenforce" and sh.uid != 0:
        raise Usage("setenforce: Couldn't set enforcing status to '{}': Permission denied", 1)
    return 0


@command("getenforce")
def getenforce(sh: Shell, argv: list[str], io: IO) -> int:
    io.write("Enforcing\n")
    return 0


@command("sleep")
def sleep(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        time.sleep(min(float(argv[1]), 30.0) if len(argv) > 1 else 0)
    except ValueError as e:
        raise Usage(f"sleep: invalid number '{argv[1]}'") from e
    return 0


@command("sh", "mksh", "bash")
def sh_(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    sub = sh.child()
    while args and args[0].startswith("-") and args[0] != "-c":
        if "e" in args[0]:
            sub.errexit = True
        args = args[1:]
    if args and args[0] == "-c":
        if len(args) < 2:
            raise Usage("/system/bin/sh: -c: option requires an argument", 2)
        sub.positional = args[3:]
        return sub.run_in(args[1], io)
    if args:
        node = sh.state.files.lookup(sh.path(args[0]))
        if node is None or node.is_dir:
            raise Usage(f"/system/bin/sh: {args[0]}: No such file or directory", 127)
        sub.positional = args[1:]
        return sub.run_in(node.data.decode("utf-8", "replace"), io)  # type: ignore[attr-defined]
    return sub.run_in(io.stdin.decode("utf-8", "replace"), IO(b"", io.out, io.err))


@command("su")
def su(sh: Shell, argv: list[str], io: IO) -> int:
    """Magisk-like su when the handset is rooted: `su -c CMD`, `su 0 CMD`, `su root CMD`."""
    if not sh.state.rooted:
        io.error("/system/bin/sh: su: inaccessible or not found\n")
        return 127
    args = argv[1:]
    root = sh.child(uid=0)
    root.env["USER"] = "root"
    root.su_context = "u:r:magisk:s0"
    while args and args[0] in ("0", "root", "-", "-l", "--login", "-mm", "-M", "--mount-master"):
        args = args[1:]
    if not args:
        return root.run_in(io.stdin.decode("utf-8", "replace"), IO(b"", io.out, io.err))
    if args[0] in ("-c", "--command"):
        return root.run_in(" ".join(args[1:]), io)
    return root.run_argv(args, io)


@command("id")
def id_(sh: Shell, argv: list[str], io: IO) -> int:
    if sh.uid == 0:
        flags = argv[1:]
        if "-u" in flags:
            io.write("0\n")
        elif sh.su_context == "u:r:magisk:s0":
            io.write("uid=0(root) gid=0(root) groups=0(root) context=u:r:magisk:s0\n")
        else:  # adbd running as root (userdebug `adb root`) keeps the shell's groups
            groups = SHELL_GROUPS.split(",", 1)[1]
            io.write(f"uid=0(root) gid=0(root) groups=0(root),{groups} context=u:r:su:s0\n")
        return 0
    if "-u" in argv[1:]:
        io.write("2000\n")
        return 0
    io.write(f"uid=2000(shell) gid=2000(shell) groups={SHELL_GROUPS} context=u:r:shell:s0\n")
    return 0


@command("whoami")
def whoami(sh: Shell, argv: list[str], io: IO) -> int:
    io.write("root\n" if sh.uid == 0 else "shell\n")
    return 0


@command("uname")
def uname(sh: Shell, argv: list[str], io: IO) -> int:
    kernel = sh.state.spec.build.kernel
    machine = "aarch64" if sh.state.spec.build.abi.startswith("arm") else "x86_64"
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-")) or "s"
    if "a" in flags:
        flags = "snrvm"
    parts = {"s": "Linux", "n": "localhost", "r": kernel, "v": "#1 SMP PREEMPT", "m": machine, "o": "Linux"}
    io.write(" ".join(parts[f] for f in "snrvmo" if f in flags) + "\n")
    return 0


@command("which")
def which(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for name in argv[1:]:
        if name in COMMANDS and name not in ("su",) or (name == "su" and sh.state.rooted):
            io.write(f"/system/bin/{name}\n")
        else:
            status = 1
    return status


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
    now = time.time()
    if fmt:
        io.write(time.strftime(fmt.replace("%s", str(int(now))), time.localtime(now)) + "\n")
    else:
        io.write(time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(now)) + "\n")
    return 0
