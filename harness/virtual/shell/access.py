"""Who may read or write where: app-private /data needs root; read-only partitions stay
read-only even for root, except below a tmpfs mount (the CA overlay procedure)."""

from __future__ import annotations

import posixpath

from harness.virtual.fs import FileSystem, FsError

# Directories the shell user cannot look into (app data, system data, user CA store).
PRIVATE_DIRS = ("/data/data", "/data/user", "/data/user_de", "/data/misc", "/data/system", "/data/vendor")
READ_ONLY = ("/system", "/apex", "/vendor", "/product", "/system_ext", "/odm", "/proc")
SHELL_WRITABLE = ("/data/local/tmp", "/storage/emulated", "/sdcard")


def read_problem(fs: FileSystem, uid: int, path: str) -> str | None:
    """Why user `uid` may not read the absolute `path` (None if allowed): app-private /data."""
    if uid == 0:
        return None
    try:
        path = fs.resolve(path)[0]
    except FsError:
        pass
    if any(path.startswith(p + "/") for p in PRIVATE_DIRS):
        return "Permission denied"
    return None


def write_problem(fs: FileSystem, uid: int, path: str) -> str | None:
    """Why user `uid` may not create/modify the absolute `path` (None if allowed)."""
    parent = posixpath.dirname(path) or "/"
    try:
        cparent = fs.resolve(parent)[0]
    except FsError:
        return None  # the write itself reports ENOENT
    full = posixpath.join(cparent, posixpath.basename(path))
    mount = next((m for m in reversed(fs.visible_mounts())
                  if full == m.point or full.startswith(m.point.rstrip("/") + "/")), None)
    if mount is not None and mount.fstype == "tmpfs":
        return None if uid == 0 else "Permission denied"
    if full == "/" or any(full == p or full.startswith(p + "/") for p in READ_ONLY):
        return "Read-only file system"
    if uid == 0:
        return None
    if any(full == p or full.startswith(p + "/") for p in SHELL_WRITABLE):
        return None
    return "Permission denied"
