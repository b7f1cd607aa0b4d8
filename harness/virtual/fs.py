"""The handset's in-memory file system: directories, files, symlinks, modes, mounts.

A mount (tmpfs or bind) over a directory hides what lies below it until `umount`;
a bind mount shares the source directory's node, so both paths show the same files
(this is how the Android 14 APEX CA procedure makes /apex/.../cacerts follow a tmpfs).

Mount namespaces: a mount under /apex is private to the namespace it is made in (as on
Android, where apexd's mounts do not propagate: a bind mount over the Conscrypt APEX's
cacerts in the adb shell's namespace reaches no app); every other mount propagates to all
namespaces. A namespace forked from another (a zygote's child) starts with a copy of its
private mounts. The calling thread's namespace (`in_namespace`) is the one paths resolve in.
"""

from __future__ import annotations

import posixpath
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

S_IFDIR, S_IFREG, S_IFLNK = stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK
BOOT_TIME = 1230768000  # 2009-01-01, what system files show on many builds
INIT_NAMESPACE = "init"  # adbd's, the adb shell's and su's
PRIVATE_PREFIXES = ("/apex",)  # mounts here stay in the namespace that made them


class FsError(Exception):
    """errno-style failure: `kind` is 'ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EBUSY', 'EINVAL'."""

    MESSAGES = {"ENOENT": "No such file or directory", "EEXIST": "File exists",
                "ENOTDIR": "Not a directory", "EISDIR": "Is a directory",
                "ENOTEMPTY": "Directory not empty", "EBUSY": "Device or resource busy",
                "EINVAL": "Invalid argument", "EACCES": "Permission denied",
                "EROFS": "Read-only file system"}

    def __init__(self, kind: str, path: str) -> None:
        super().__init__(f"{path}: {self.MESSAGES.get(kind, kind)}")
        self.kind = kind
        self.path = path

    @property
    def text(self) -> str:
        return self.MESSAGES.get(self.kind, self.kind)


@dataclass(eq=False)
class Node:
    mode: int
    uid: int = 0
    gid: int = 0
    mtime: int = BOOT_TIME
    label: str = "u:object_r:system_file:s0"

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def size(self) -> int:
        return 4096 if self.is_dir else 0


@dataclass(eq=False)
class File(Node):
    data: bytes = b""

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(eq=False)
class Dir(Node):
    children: dict[str, Node] = field(default_factory=dict)


@dataclass(eq=False)
class Link(Node):
    target: str = ""

    @property
    def size(self) -> int:
        return len(self.target)


@dataclass(eq=False)
class Mount:
    device: str
    point: str
    fstype: str
    options: str
    root: Dir
    namespace: str | None = None  # None: propagated to every namespace


def private_point(point: str) -> bool:
    return any(point == p or point.startswith(p + "/") for p in PRIVATE_PREFIXES)


def norm(path: str, cwd: str = "/") -> str:
    if not path.startswith("/"):
        path = posixpath.join(cwd, path)
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out != "/" else "/"


class FileSystem:
    """Paths are absolute (callers join with the shell's cwd via `norm`)."""

    def __init__(self) -> None:
        self.root = Dir(S_IFDIR | 0o755)
        self.mounts: list[Mount] = []  # of every namespace, oldest first
        self.static_mounts: list[str] = []
        self.namespaces: set[str] = {INIT_NAMESPACE}
        self._current = threading.local()

    # --- mount namespaces ------------------------------------------------------------
    @property
    def namespace(self) -> str:
        return getattr(self._current, "name", INIT_NAMESPACE)

    @contextmanager
    def in_namespace(self, name: str) -> Iterator[None]:
        """Resolve paths in namespace `name` in this thread (nsenter --mount)."""
        before = self.namespace
        self._current.name = name
        try:
            yield
        finally:
            self._current.name = before

    def fork_namespace(self, parent: str, child: str) -> None:
        """`child` starts as a copy of `parent` (its private mounts at this moment)."""
        self.drop_namespace(child)
        self.namespaces.add(child)
        self.mounts += [Mount(m.device, m.point, m.fstype, m.options, m.root, child)
                        for m in list(self.mounts) if m.namespace == parent]

    def drop_namespace(self, name: str) -> None:
        if name == INIT_NAMESPACE:
            return
        self.namespaces.discard(name)
        self.mounts = [m for m in self.mounts if m.namespace != name]

    def visible_mounts(self) -> list[Mount]:
        here = self.namespace
        return [m for m in self.mounts if m.namespace is None or m.namespace == here]

    # --- resolution ------------------------------------------------------------------
    def _mounted(self, path: str, node: Node) -> Node:
        for mount in reversed(self.visible_mounts()):
            if mount.point == path:
                return mount.root
        return node

    def resolve(self, path: str, follow: bool = True) -> tuple[str, Node]:
        """(canonical path, node); FsError ENOENT/ENOTDIR."""
        parts = [p for p in norm(path).split("/") if p]
        node: Node = self._mounted("/", self.root)
        cur = "/"
        hops = 0
        i = 0
        while i < len(parts):
            name = parts[i]
            if not isinstance(node, Dir):
                raise FsError("ENOTDIR", path)
            child = node.children.get(name)
            if child is None:
                raise FsError("ENOENT", path)
            nxt = posixpath.join(cur, name)
            last = i == len(parts) - 1
            if isinstance(child, Link) and (follow or not last):
                hops += 1
                if hops > 16:
                    raise FsError("ELOOP", path)
                target = child.target if child.target.startswith("/") else posixpath.join(cur, child.target)
                parts = [p for p in norm(target).split("/") if p] + parts[i + 1:]
                node, cur, i = self._mounted("/", self.root), "/", 0
                continue
            node, cur = self._mounted(nxt, child), nxt
            i += 1
        return cur, node

    def lookup(self, path: str, follow: bool = True) -> Node | None:
        try:
            return self.resolve(path, follow)[1]
        except FsError:
            return None

    def exists(self, path: str) -> bool:
        return self.lookup(path) is not None

    def isdir(self, path: str) -> bool:
        node = self.lookup(path)
        return node is not None and node.is_dir

    def _parent(self, path: str) -> tuple[str, Dir, str]:
        path = norm(path)
        if path == "/":
            raise FsError("EBUSY", path)
        head, name = posixpath.split(path)
        cpath, parent = self.resolve(head)
        if not isinstance(parent, Dir):
            raise FsError("ENOTDIR", path)
        return cpath, parent, name

    # --- changes ---------------------------------------------------------------------
    def mkdir(self, path: str, mode: int = 0o771, parents: bool = False, uid: int = 0,
              gid: int = 0, label: str | None = None) -> Dir:
        path = norm(path)
        node = self.lookup(path)
        if node is not None:
            if parents and node.is_dir:
                return node  # type: ignore[return-value]
            raise FsError("EEXIST", path)
        if parents and path != "/":
            self.mkdir(posixpath.dirname(path), mode, True, uid, gid, label)
        _, parent, name = self._parent(path)
        new = Dir(S_IFDIR | mode, uid, gid, int(time.time()), label or parent.label)
        parent.children[name] = new
        return new

    def write(self, path: str, data: bytes, mode: int | None = None, uid: int | None = None,
              gid: int | None = None, append: bool = False, mtime: int | None = None) -> File:
        node = self.lookup(path)
        if node is not None and node.is_dir:
            raise FsError("EISDIR", path)
        if isinstance(node, File):
            node.data = node.data + data if append else data
            node.mtime = mtime if mtime is not None else int(time.time())
            if mode is not None:
                node.mode = S_IFREG | (mode & 0o7777)
            return node
        _, parent, name = self._parent(path)
        new = File(S_IFREG | ((mode if mode is not None else 0o644) & 0o7777),
                   uid if uid is not None else parent.uid, gid if gid is not None else parent.gid,
                   mtime if mtime is not None else int(time.time()), parent.label, data)
        parent.children[name] = new
        return new

    def symlink(self, target: str, path: str) -> None:
        _, parent, name = self._parent(path)
        if name in parent.children:
            raise FsError("EEXIST", path)
        parent.children[name] = Link(S_IFLNK | 0o777, 0, 0, BOOT_TIME, parent.label, target)

    def read(self, path: str) -> bytes:
        node = self.resolve(path)[1]
        if node.is_dir:
            raise FsError("EISDIR", path)
        if not isinstance(node, File):
            raise FsError("EINVAL", path)
        return node.data

    def listdir(self, path: str) -> list[tuple[str, Node]]:
        node = self.resolve(path)[1]
        if not isinstance(node, Dir):
            raise FsError("ENOTDIR", path)
        return sorted(node.children.items())

    def remove(self, path: str, recursive: bool = False) -> None:
        cpath, parent, name = self._parent(path)
        node = parent.children.get(name)
        if node is None:
            raise FsError("ENOENT", path)
        full = posixpath.join(cpath, name)
        if any(m.point == full or m.point.startswith(full + "/") for m in self.mounts):
            raise FsError("EBUSY", path)
        if isinstance(node, Dir) and not recursive:
            raise FsError("EISDIR", path)
        del parent.children[name]

    def rmdir(self, path: str) -> None:
        node = self.resolve(path, follow=False)[1]
        if not isinstance(node, Dir):
            raise FsError("ENOTDIR", path)
        if node.children:
            raise FsError("ENOTEMPTY", path)
        self.remove(path, recursive=True)

    def rename(self, src: str, dst: str) -> None:
        scpath, sparent, sname = self._parent(src)
        node = sparent.children.get(sname)
        if node is None:
            raise FsError("ENOENT", src)
        if self.isdir(dst):
            dst = posixpath.join(norm(dst), sname)
        _, dparent, dname = self._parent(dst)
        del sparent.children[sname]
        dparent.children[dname] = node

    def copy_node(self, node: Node) -> Node:
        if isinstance(node, File):
            return File(node.mode, node.uid, node.gid, node.mtime, node.label, node.data)
        if isinstance(node, Link):
            return Link(node.mode, node.uid, node.gid, node.mtime, node.label, node.target)
        assert isinstance(node, Dir)
        return Dir(node.mode, node.uid, node.gid, node.mtime, node.label,
                   {k: self.copy_node(v) for k, v in node.children.items()})

    # --- mounts ----------------------------------------------------------------------
    def mount_tmpfs(self, point: str, options: str = "rw,seclabel,relatime") -> None:
        cpath, node = self.resolve(point)
        if not node.is_dir:
            raise FsError("ENOTDIR", point)
        root = Dir(S_IFDIR | 0o1777, 0, 0, int(time.time()), "u:object_r:tmpfs:s0")
        self.mounts.append(Mount("tmpfs", cpath, "tmpfs", options, root, self._owner(cpath)))

    def _owner(self, point: str) -> str | None:
        return self.namespace if private_point(point) else None

    def mount_bind(self, src: str, point: str) -> None:
        _, snode = self.resolve(src)
        cpath, node = self.resolve(point)
        if not isinstance(snode, Dir) or not node.is_dir:
            raise FsError("ENOTDIR", point)
        base = next((m for m in reversed(self.visible_mounts()) if m.root is snode), None)
        device = base.device if base else "/dev/block/dm-0"
        fstype = base.fstype if base else "ext4"
        options = base.options if base else "ro,seclabel,relatime"
        self.mounts.append(Mount(device, cpath, fstype, options, snode, self._owner(cpath)))

    def umount(self, point: str) -> None:
        cpath = norm(point)
        try:
            cpath = self.resolve(point)[0]
        except FsError:
            pass
        here = self.namespace
        for i in range(len(self.mounts) - 1, -1, -1):
            mount = self.mounts[i]
            if mount.point == cpath and mount.namespace in (None, here):
                del self.mounts[i]
                return
        raise FsError("EINVAL", point)

    def proc_mounts(self) -> str:
        """/proc/mounts: `device point type options 0 0` per mount."""
        out = []
        for line in self.mount_lines():
            dev, _, rest = line.partition(" on ")
            point, _, rest = rest.partition(" type ")
            fstype, _, opts = rest.partition(" (")
            out.append(f"{dev} {point} {fstype} {opts.rstrip(')')} 0 0\n")
        return "".join(out)

    def mount_lines(self) -> list[str]:
        lines = list(self.static_mounts)
        lines += [f"{m.device} on {m.point} type {m.fstype} ({m.options})" for m in self.visible_mounts()]
        return lines
