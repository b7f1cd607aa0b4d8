"""Report files only their owner can read: they hold what the capture holds (0600, as the
capture's own files, in a folder made 0700)."""

from __future__ import annotations

import os
from pathlib import Path


def private_file(path: Path) -> Path:
    """Create `path` (or empty it) as a file of mode 0600, for a writer to fill; returns it.

    Writers open an existing file without changing its mode, so the mode set here stays;
    a symlink in its place is refused (OSError), not followed.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a file left by an earlier report keeps its mode through O_TRUNC
    finally:
        os.close(fd)
    return path
