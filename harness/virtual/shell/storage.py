"""`df` (toybox) over the handset's mounts: 1K blocks, used, available, use%, mount point.

/data shows the spec's free space (faults.data_free_mb); the other mounts are full images
(read-only partitions) or small tmpfs."""

from __future__ import annotations

from harness.virtual.conditions import DATA_SIZE_KB
from harness.virtual.fs import norm
from harness.virtual.shell.command_io import IO
from harness.virtual.shell.interp import Shell, command

HEADER = "Filesystem        1K-blocks    Used Available Use% Mounted on\n"


def _rows(sh: Shell) -> list[tuple[str, int, int, int, str]]:
    free = sh.state.spec.faults.data_free_mb * 1024
    data_used = DATA_SIZE_KB - free
    return [
        ("/dev/block/dm-5", 5_177_388, 5_161_020, 0, "/"),
        ("tmpfs", 5_833_060, 1_476, 5_831_584, "/dev"),
        ("/dev/block/dm-6", 721_412, 719_148, 0, "/system_ext"),
        ("/dev/block/dm-7", 3_105_544, 3_095_272, 0, "/product"),
        ("/dev/block/dm-8", 818_640, 816_180, 0, "/vendor"),
        ("tmpfs", 5_833_060, 0, 5_833_060, "/apex"),
        ("/dev/block/dm-34", DATA_SIZE_KB, data_used, free, "/data"),
        ("/dev/fuse", DATA_SIZE_KB, data_used, free, "/storage/emulated"),
    ]


def _mount_of(path: str, points: list[str]) -> str:
    return max((p for p in points if path == p or path.startswith(p.rstrip("/") + "/")), key=len, default="/")


@command("df")
def df(sh: Shell, argv: list[str], io: IO) -> int:
    rows = _rows(sh)
    paths = [a for a in argv[1:] if not a.startswith("-")]
    if paths:
        points = [r[4] for r in rows]
        wanted = []
        for p in paths:
            full = norm(sh.path(p))
            if sh.state.files.lookup(full) is None and full not in points:
                io.error(f"df: {p}: No such file or directory\n")
                continue
            wanted.append(_mount_of(full, points))
        rows = [r for point in wanted for r in rows if r[4] == point]
    io.write(HEADER)
    for device, size, used, avail, point in rows:
        pct = (used * 100 + size - 1) // size if size else 0
        io.write(f"{device:<17} {size:>9} {used:>7} {avail:>9} {pct:>3}% {point}\n")
    return 0
