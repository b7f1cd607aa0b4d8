"""Who may read or write where: app-private /data needs root; read-only partitions stay
read-only even for root, except below a tmpfs mount (the CA overlay procedure)."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from harness.virtual.fs import FsError

if TYPE_CHECKING:
    from harness.virtual.shell.interp import Shell

# Directories the shell user cannot look into (app data, system data, user CA store).
PRIVATE_DIRS = ("/data/data", "/data/user", "/data/user_de", "/data/misc", "/data/system", "/data/vendor")
READ_ONLY = ("/system", "/apex", "/vendor", "/product", "/system_ext", "/odm", "/proc")
SHELL_WRITABLE = ("/data/local/tmp", "/storage/emulated", "/sdcard")


def read_problem(sh: Shell, target: str) -> str | None:
    """Why this user may not read `target` (None if allowed): app-private /data."""
    if sh.uid == 0:
        return None
    path = sh.path(target)
    try:
        path = sh.state.files.resolve(path)[0]
    except FsError:
        pass
    if any(path.startswith(p + "/") for p in PRIVATE_DIRS):
        return "Permission denied"
    return None


def write_problem(sh: Shell, target: str) -> str | None:
    """Why this user may not create/modify `target` (None if allowed)."""
    fs = sh.state.files
    path = sh.path(target)
    parent = posixpath.dirname(path) or "/"
    try:
        cparent = fs.resolve(parent)[0]
    except FsError:
        return None  # the write itself reports ENOENT
    full = posixpath.join(cparent, posixpath.basename(path))
    mount = next((m for m in reversed(fs.mounts)
                  if full == m.point or full.startswith(m.point.rstrip("/") + "/")), None)
    if mount is not None and mount.fstype == "tmpfs":
        return None if sh.uid == 0 else "Permission denied"
    if full == "/" or any(full == p or full.startswith(p + "/") for p in READ_ONLY):
        return "Read-only file system"
    if sh.uid == 0:
        return None
    if any(full == p or full.startswith(p + "/") for p in SHELL_WRITABLE):
        return None
    return "Permission denied"
