"""The handset state's lock: re-entrant, and one a thread can set down while it waits.

Shell commands run holding it (interp.Shell.run_argv) and nested shells (`sh -c`, `su -c`)
take it again. A command that waits on something outside the state (its stdin, `sleep`,
monkey's throttle) waits inside `released()`, which lets go of every hold this thread has
and takes them back afterwards, so other sessions, the apps and adbd's services go on
meanwhile. adbd's event loop never takes it (it hands such work to a worker thread).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class StateLock:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._holds = threading.local()  # this thread's hold count

    def _depth(self) -> int:
        return getattr(self._holds, "depth", 0)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        taken = self._lock.acquire(blocking, timeout)
        if taken:
            self._holds.depth = self._depth() + 1
        return taken

    def release(self) -> None:
        self._lock.release()  # RuntimeError if this thread does not hold it
        self._holds.depth = self._depth() - 1

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Not held by this thread inside the block (however often it took it); held as
        before after it. A no-op for a thread that does not hold it."""
        depth = self._depth()
        for _ in range(depth):
            self._lock.release()
        self._holds.depth = 0
        try:
            yield
        finally:
            for _ in range(depth):
                self._lock.acquire()
            self._holds.depth = depth
