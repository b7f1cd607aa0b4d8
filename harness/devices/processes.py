"""Processes of this host, read from /proc (Linux): enough to tell whether the lab process
that started a virtual handset still lives, and to stop a handset and its JVMs by PID.

A PID alone is not an identity (PIDs are reused), so an owner is recorded as its PID and
its start time (clock ticks after boot, /proc/PID/stat field 22); a zombie counts as gone.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    state: str  # R, S, D, Z, ...
    session: int
    start: int  # clock ticks after boot
    argv: tuple[str, ...]

    @property
    def running(self) -> bool:
        return self.state not in ("Z", "X")


def process(pid: int) -> ProcessInfo | None:
    """The process `pid` as /proc shows it now, or None when there is none."""
    base = PROC / str(pid)
    try:
        stat = (base / "stat").read_text()
        raw_argv = (base / "cmdline").read_bytes()
    except OSError:  # gone, or never was
        return None
    try:
        fields = stat.rsplit(")", 1)[1].split()
        state, session, start = fields[0], int(fields[3]), int(fields[19])
    except (IndexError, ValueError):
        return None
    argv = tuple(a.decode(errors="replace") for a in raw_argv.split(b"\0")[:-1])
    return ProcessInfo(pid, state, session, start, argv)


def processes() -> Iterator[ProcessInfo]:
    """Every process /proc lists, read one by one (some end while we look)."""
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            info = process(int(entry.name))
            if info is not None:
                yield info


def start_time(pid: int) -> int | None:
    info = process(pid)
    return info.start if info is not None else None


def alive(pid: int, start: int | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, if `start` is given, is the process that
    started then (not a later one that got the same PID)."""
    info = process(pid)
    return info is not None and info.running and (start is None or info.start == start)


def stop(pids: Iterable[int], first: Iterable[int] = (), timeout: float = 15.0) -> list[int]:
    """SIGTERM `first` (a handset shuts its JVMs down itself), then SIGKILL whichever of
    `pids` and `first` still runs after `timeout`. Each is signalled only while it is the
    process it was when this began. Returns the PIDs still running at the end."""
    starts = {pid: start_time(pid) for pid in {*pids, *first}}
    known = {pid: start for pid, start in starts.items() if start is not None}

    def still() -> list[int]:
        return sorted(pid for pid, start in known.items() if alive(pid, start))

    leaders = [pid for pid in first if pid in known]
    for pid in leaders:
        _signal(pid, signal.SIGTERM)
    if _wait(still, timeout if leaders else 0.0):
        return []
    for pid in still():
        _signal(pid, signal.SIGKILL)
    _wait(still, 5.0)
    return still()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait(still: Callable[[], list[int]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while still():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
