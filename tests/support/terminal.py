"""Reading what a program printed on a pseudo-terminal, for tests that play the technician."""

from __future__ import annotations

import os
import select
import time


def read_until(master: int, marker: bytes, timeout: float) -> bytes:
    """What the terminal's master side shows until `marker` appears, the program closes the
    terminal (EIO), or `timeout` seconds pass."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 65536)
            except OSError:  # EIO: the program closed the terminal
                break
    return seen
