"""File commands (toybox-like): ls, stat, cat, cp, mv, rm, mkdir, rmdir.
chmod & co. are in perms.py; mount, nsenter, test in mounts.py."""

from __future__ import annotations

import posixpath
import stat as st
import time

from harness.virtual.fs import Dir, File, FsError, Link, Node
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command

USERS = {0: "root", 1000: "system", 1001: "radio", 1036: "logd", 2000: "shell", 9997: "everybody"}
NAMES = {v: k for k, v in USERS.items()}


def user_name(uid: int) -> str:
    if uid in USERS:
        return USERS[uid]
    if 10000 <= uid < 20000:
        return f"u0_a{uid - 10000}"
    return str(uid)


def parse_user(name: str) -> int:
    if name.isdigit():
        return int(name)
    if name in NAMES:
        return NAMES[name]
    if name.startswith("u0_a") and name[4:].isdigit():
        return 10000 + int(name[4:])
    raise Usage(f"chown: bad user '{name}'")


def split_flags(argv: list[str], known: str) -> tuple[set[str], list[str]]:
    flags: set[str] = set()
    rest: list[str] = []
    only_args = False
    for a in argv:
        if not only_args and a == "--":
            only_args = True
        elif not only_args and a.startswith("-") and len(a) > 1 and all(c in known for c in a[1:]):
            flags.update(a[1:])
        else:
            rest.append(a)
    return flags, rest


def fmt_time(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def long_line(name: str, node: Node, widths: tuple[int, int, int, int], label: bool) -> str:
    links = 2 if node.is_dir else 1
    line = (f"{st.filemode(node.mode)} {links:>{widths[0]}} {user_name(node.uid):<{widths[1]}} "
            f"{user_name(node.gid):<{widths[2]}} ")
    if label:
        line += f"{node.label} "
    line += f"{node.size:>{widths[3]}} {fmt_time(node.mtime)} {name}"
    if isinstance(node, Link):
        line += f" -> {node.target}"
    return line


@command("ls")
def ls(sh: Shell, argv: list[str], io: IO) -> int:
    flags, paths = split_flags(argv[1:], "laRd1ZnhAFtsS")
    paths = paths or ["."]
    fs = sh.state.files
    status = 0
    files: list[tuple[str, Node]] = []
    dirs: list[str] = []
    for p in paths:
        problem = sh.read_problem(p)
        node = fs.lookup(sh.path(p), follow=not ("l" in flags and not p.endswith("/")) or "d" in flags)
        if problem and node is not None:
            io.error(f"ls: {p}: {problem}\n")
            status = 1
            continue
        if node is None:
            io.error(f"ls: {p}: No such file or directory\n")
            status = 1
            continue
        if isinstance(node, Link) and "d" not in flags:
            target = fs.lookup(sh.path(p))
            if target is not None and target.is_dir and ("l" not in flags or p.endswith("/")):
                node = target
        if node.is_dir and "d" not in flags:
            dirs.append(p)
        else:
            files.append((p, node))
    show_headers = len(paths) > 1 or "R" in flags
    if files:
        _emit(files, flags, io, total=False)
    first = not files
    queue = list(dirs)
    while queue:
        d = queue.pop(0)
        try:
            entries = fs.listdir(sh.path(d))
        except FsError as e:
            io.error(f"ls: {d}: {e.text}\n")
            status = 1
            continue
        if "a" in flags:
            here = fs.lookup(sh.path(d))
            entries = [(".", here), ("..", here)] + entries  # type: ignore[list-item]
        elif "A" not in flags:
            entries = [(n, e) for n, e in entries if not n.startswith(".")]
        if show_headers:
            io.write(("" if first else "\n") + f"{d}:\n")
        first = False
        _emit(entries, flags, io, total=True)
        if "R" in flags:
            subs = [posixpath.join(d, n) for n, e in entries
                    if isinstance(e, Dir) and n not in (".", "..")]
            queue = subs + queue
    return status


def _emit(entries: list[tuple[str, Node]], flags: set[str], io: IO, total: bool) -> None:
    if "l" not in flags and "n" not in flags:
        for name, _ in entries:
            io.write(f"{name}\n")
        return
    numeric = "n" in flags
    rows = [(name, node) for name, node in entries]
    widths = (
        max([1] + [len(str(2 if n.is_dir else 1)) for _, n in rows]),
        max([1] + [len(str(n.uid) if numeric else user_name(n.uid)) for _, n in rows]),
        max([1] + [len(str(n.gid) if numeric else user_name(n.gid)) for _, n in rows]),
        max([1] + [len(str(n.size)) for _, n in rows]),
    )
    if total:
        io.write(f"total {sum((n.size + 4095) // 4096 * 4 for _, n in rows)}\n")
    for name, node in rows:
        line = long_line(name, node, widths, "Z" in flags)
        if numeric:
            line = line.replace(f" {user_name(node.uid):<{widths[1]}} ", f" {node.uid:<{widths[1]}} ", 1)
        io.write(line + "\n")


@command("stat")
def stat_(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    fmt = None
    follow = False
    paths: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-c", "--format") and i + 1 < len(args):
            fmt = args[i + 1]
            i += 2
            continue
        if a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        elif a in ("-L", "--dereference"):
            follow = True
        else:
            paths.append(a)
        i += 1
    if not paths:
        raise Usage("stat: Need 1 argument", 1)
    status = 0
    for p in paths:
        node = sh.state.files.lookup(sh.path(p), follow=follow)
        if node is None:
            io.error(f"stat: '{p}': No such file or directory\n")
            status = 1
            continue
        if fmt is None:
            io.write(f"  File: {p}\n  Size: {node.size}\t Blocks: {(node.size + 511) // 512}\t IO Blocks: 4096\t"
                     f"{_kind(node)}\nAccess: ({node.mode & 0o7777:04o}/{st.filemode(node.mode)})\t"
                     f"Uid: ({node.uid:5d}/{user_name(node.uid):>8})\tGid: ({node.gid:5d}/{user_name(node.gid):>8})\n"
                     f"Modify: {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(node.mtime))}.000000000 +0000\n")
        else:
            io.write(_stat_format(fmt, p, node) + "\n")
    return status


def _kind(node: Node) -> str:
    return "directory" if node.is_dir else "symbolic link" if node.is_link else (
        "regular empty file" if node.size == 0 else "regular file")


def _stat_format(fmt: str, path: str, node: Node) -> str:
    values = {"a": f"{node.mode & 0o7777:o}", "A": st.filemode(node.mode), "U": user_name(node.uid),
              "G": user_name(node.gid), "u": str(node.uid), "g": str(node.gid), "s": str(node.size),
              "n": path, "N": f"'{path}'", "F": _kind(node), "Y": str(node.mtime), "X": str(node.mtime),
              "Z": str(node.mtime), "C": node.label, "h": "2" if node.is_dir else "1",
              "i": str(id(node) % 1000000), "f": f"{node.mode:x}", "b": str((node.size + 511) // 512),
              "B": "512", "o": "4096", "d": "64773", "t": "0", "T": "0", "%": "%"}
    out: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            out.append(values.get(fmt[i + 1], "?"))
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


@command("cat")
def cat(sh: Shell, argv: list[str], io: IO) -> int:
    paths = [a for a in argv[1:] if a != "-u"]
    if not paths:
        io.out += io.stdin
        return 0
    status = 0
    for p in paths:
        if p == "-":
            io.out += io.stdin
            continue
        try:
            if sh.path(p) in ("/proc/mounts", "/proc/self/mounts"):
                io.write(sh.state.files.proc_mounts())
                continue
            problem = sh.read_problem(p)
            if problem:
                io.error(f"cat: {p}: {problem}\n")
                status = 1
                continue
            io.out += sh.state.files.read(sh.path(p))
        except FsError as e:
            io.error(f"cat: {p}: {e.text}\n")
            status = 1
    return status


def check_write(sh: Shell, name: str, path: str) -> None:
    problem = sh.write_problem(path)
    if problem:
        raise Usage(f"{name}: {path}: {problem}")


@command("cp")
def cp(sh: Shell, argv: list[str], io: IO) -> int:
    flags, args = split_flags(argv[1:], "rRpfaiPLHdnv")
    if len(args) < 2:
        raise Usage("cp: Needs 2 arguments")
    *srcs, dst = args
    fs = sh.state.files
    dst_is_dir = fs.isdir(sh.path(dst))
    if len(srcs) > 1 and not dst_is_dir:
        raise Usage(f"cp: {dst}: Not a directory")
    status = 0
    for src in srcs:
        node = fs.lookup(sh.path(src))
        if node is not None and sh.read_problem(src):
            io.error(f"cp: {src}: Permission denied\n")
            status = 1
            continue
        if node is None:
            io.error(f"cp: {src}: No such file or directory\n")
            status = 1
            continue
        target = posixpath.join(dst, posixpath.basename(src.rstrip("/"))) if dst_is_dir else dst
        if node.is_dir and not flags & set("rRa"):
            io.error(f"cp: {src}: Is a directory\n")  # toybox: "Skipped dir"
            status = 1
            continue
        problem = sh.write_problem(target)
        if problem:
            io.error(f"cp: {target}: {problem}\n")
            status = 1
            continue
        copy = fs.copy_node(node)
        if not flags & set("pa"):
            copy.uid = copy.gid = sh.uid
            copy.mtime = int(time.time())
        if isinstance(copy, File):
            fs.write(sh.path(target), copy.data, copy.mode & 0o7777, copy.uid, copy.gid, mtime=copy.mtime)
        else:
            _, parent, name = fs._parent(sh.path(target))
            parent.children[name] = copy
    return status


@command("mv")
def mv(sh: Shell, argv: list[str], io: IO) -> int:
    _, args = split_flags(argv[1:], "finv")
    if len(args) < 2:
        raise Usage("mv: Needs 2 arguments")
    *srcs, dst = args
    status = 0
    for src in srcs:
        for p in (src, dst):
            problem = sh.write_problem(p)
            if problem:
                io.error(f"mv: {p}: {problem}\n")
                return 1
        try:
            sh.state.files.rename(sh.path(src), sh.path(dst))
        except FsError as e:
            io.error(f"mv: {src}: {e.text}\n")
            status = 1
    return status


@command("rm")
def rm(sh: Shell, argv: list[str], io: IO) -> int:
    flags, paths = split_flags(argv[1:], "rRfiv")
    status = 0
    for p in paths:
        problem = sh.write_problem(p)
        if problem and sh.state.files.exists(sh.path(p)):
            io.error(f"rm: {p}: {problem}\n")
            status = 1
            continue
        try:
            sh.state.files.remove(sh.path(p), recursive=bool(flags & {"r", "R"}))
        except FsError as e:
            if e.kind == "ENOENT" and "f" in flags:
                continue
            io.error(f"rm: {p}: {e.text}\n")
            status = 1
    return status


@command("mkdir")
def mkdir(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    mode = 0o771 if sh.uid == 2000 else 0o700
    parents = False
    paths: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "-p":
            parents = True
        elif args[i] == "-m" and i + 1 < len(args):
            mode = int(args[i + 1], 8)
            i += 1
        else:
            paths.append(args[i])
        i += 1
    status = 0
    for p in paths:
        problem = sh.write_problem(p)
        if problem and not (parents and sh.state.files.isdir(sh.path(p))):
            io.error(f"mkdir: '{p}': {problem}\n")
            status = 1
            continue
        try:
            sh.state.files.mkdir(sh.path(p), mode, parents, uid=sh.uid, gid=sh.uid)
        except FsError as e:
            io.error(f"mkdir: '{p}': {e.text}\n")
            status = 1
    return status


@command("rmdir")
def rmdir(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for p in argv[1:]:
        try:
            sh.state.files.rmdir(sh.path(p))
        except FsError as e:
            io.error(f"rmdir: '{p}': {e.text}\n")
            status = 1
    return status
