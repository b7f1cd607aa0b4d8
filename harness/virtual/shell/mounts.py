"""Mount-namespace and test commands: mount, umount, nsenter, test/[ ."""

from __future__ import annotations

from harness.virtual import namespaces
from harness.virtual.fs import INIT_NAMESPACE, File, FsError
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.files import split_flags
from harness.virtual.shell.interp import Shell, command
from harness.virtual.shell.system import processes


@command("mount")
def mount(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    fs = sh.state.files
    if not args:
        io.write("".join(line + "\n" for line in fs.mount_lines()))
        return 0
    fstype = None
    bind = False
    positional: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-t" and i + 1 < len(args):
            fstype = args[i + 1]
            i += 1
        elif a in ("--bind", "-B") or (a == "-o" and i + 1 < len(args) and "bind" in args[i + 1]):
            bind = True
            if a == "-o":
                i += 1
        elif a == "-o" and i + 1 < len(args):
            i += 1  # remount options are accepted and ignored
        elif a.startswith("-"):
            pass
        else:
            positional.append(a)
        i += 1
    if sh.uid != 0:
        raise Usage("mount: permission denied (are you root?)", 255)
    if len(positional) != 2:
        raise Usage("mount: need 2 arguments", 1)
    src, point = positional
    try:
        if bind:
            fs.mount_bind(sh.path(src), sh.path(point))
        elif fstype == "tmpfs":
            fs.mount_tmpfs(sh.path(point))
        else:
            raise Usage(f"mount: '{src}'->'{point}': No such device", 255)
    except FsError as e:
        raise Usage(f"mount: '{src}'->'{point}': {e.text}", 255) from e
    return 0


@command("umount")
def umount(sh: Shell, argv: list[str], io: IO) -> int:
    _, paths = split_flags(argv[1:], "lfr")
    if sh.uid != 0:
        raise Usage(f"umount: {paths[0] if paths else ''}: Operation not permitted", 1)
    status = 0
    for p in paths:
        try:
            sh.state.files.umount(sh.path(p))
        except FsError:
            io.error(f"umount: {p}: Invalid argument\n")
            status = 1
    return status


@command("nsenter")
def nsenter(sh: Shell, argv: list[str], io: IO) -> int:
    """Run the command in another process's mount namespace (--mount=/proc/PID/ns/mnt,
    or -t PID -m); other namespaces are shared by every process here."""
    args = argv[1:]
    target: str | None = None
    mount_file: str | None = None
    wants_mount = False
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        a = args[i]
        if a in ("-t", "--target") and i + 1 < len(args):
            target = args[i + 1]
            i += 1
        elif a.startswith("--target="):
            target = a.split("=", 1)[1]
        elif a.startswith("--mount="):
            mount_file = a.split("=", 1)[1]
        elif a in ("-m", "--mount"):
            wants_mount = True
        i += 1
    if i < len(args) and args[i] == "--":
        i += 1
    if sh.uid != 0:
        raise Usage("nsenter: setns: Operation not permitted", 1)
    namespace = sh.state.files.namespace
    if mount_file is not None or (wants_mount and target is not None):
        found = _namespace(sh, mount_file or f"/proc/{target}/ns/mnt")
        if found is None:
            raise Usage(f"nsenter: cannot open {mount_file or f'/proc/{target}/ns/mnt'}: "
                        "No such file or directory", 1)
        namespace = found
    with sh.state.files.in_namespace(namespace):
        if i >= len(args):
            return sh.child().run_in("", io)
        return sh.run_argv(args[i:], io)


def _namespace(sh: Shell, path: str) -> str | None:
    """The mount namespace /proc/PID/ns/mnt stands for (None: no such process)."""
    parts = path.split("/")
    if len(parts) != 5 or parts[:2] != ["", "proc"] or parts[3:] != ["ns", "mnt"]:
        return None
    if parts[2] == "self":
        return sh.state.files.namespace
    if not parts[2].isdigit():
        return None
    pid = int(parts[2])
    if pid not in {row[0] for row in processes(sh)}:
        return None
    return namespaces.of_pid(sh.state, pid, sh.host.apps.running()) or INIT_NAMESPACE


def _test(sh: Shell, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!":
        return not _test(sh, args[1:])
    if "-a" in args:
        k = args.index("-a")
        return _test(sh, args[:k]) and _test(sh, args[k + 1:])
    if "-o" in args:
        k = args.index("-o")
        return _test(sh, args[:k]) or _test(sh, args[k + 1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, val = args
        fs = sh.state.files
        if op == "-z":
            return val == ""
        if op == "-n":
            return val != ""
        if op in ("-L", "-h"):
            node = fs.lookup(sh.path(val), follow=False)
            return node is not None and node.is_link
        node = None if sh.read_problem(val) else fs.lookup(sh.path(val))
        if op == "-e":
            return node is not None
        if op == "-f":
            return isinstance(node, File)
        if op == "-d":
            return node is not None and node.is_dir
        if op == "-s":
            return node is not None and node.size > 0
        if op in ("-r", "-w"):
            return node is not None and (op == "-r" or sh.write_problem(val) is None)
        if op == "-x":
            return node is not None and bool(node.mode & 0o111)
        raise Usage(f"test: unknown operand '{op}'", 2)
    if len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        if op in ("-eq", "-ne", "-lt", "-gt", "-le", "-ge"):
            try:
                x, y = int(a), int(b)
            except ValueError as e:
                raise Usage(f"test: bad number '{a if not a.lstrip('-').isdigit() else b}'", 2) from e
            return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-gt": x > y, "-le": x <= y, "-ge": x >= y}[op]
    raise Usage("test: too many arguments", 2)


@command("test", "[", "[[")
def test(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0] in ("[", "[["):
        close = "]" if argv[0] == "[" else "]]"
        if not args or args[-1] != close:
            raise Usage(f"{argv[0]}: missing {close}", 2)
        args = args[:-1]
    return 0 if _test(sh, args) else 1
