"""Shell builtins and text tools: echo, printf, cd, exit, set, sh, su, id, whoami,
uname, which, sleep, wait (text tools are in text.py)."""

from __future__ import annotations

import re

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import COMMANDS, ExitShell, Shell, command

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


@command("wait", "sync")
def noop(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("setenforce")
def setenforce(sh: Shell, argv: list[str], io: IO) -> int:
    mode = argv[1] if len(argv) == 2 else ""
    wanted = {"1": True, "enforcing": True, "0": False, "permissive": False}.get(mode.lower())
    if wanted is None:
        raise Usage("usage: setenforce [enforcing|permissive|1|0]\n\nSets whether SELinux is enforcing (1) or not (0).", 1)
    if sh.uid != 0:
        raise Usage(f"setenforce: Couldn't set enforcing status to '{mode}': Permission denied", 1)
    sh.state.conditions.enforcing = wanted
    return 0


@command("getenforce")
def getenforce(sh: Shell, argv: list[str], io: IO) -> int:
    io.write("Enforcing\n" if sh.state.conditions.enforcing else "Permissive\n")
    return 0


@command("sleep")
def sleep(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        seconds = min(float(argv[1]), 30.0) if len(argv) > 1 else 0
    except ValueError as e:
        raise Usage(f"sleep: invalid number '{argv[1]}'") from e
    with sh.state.lock.released():  # other sessions go on meanwhile
        sh.state.stopping.wait(seconds)
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
