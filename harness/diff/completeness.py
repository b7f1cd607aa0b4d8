"""Which captures a diff may judge: those of runs that played their whole profile.

A run whose steps failed (status `partial` or `failed`), that was interrupted, or that was
killed (no run.json) lacks the traffic its missing steps would have caused. Compared as
if complete, that gap reads as change: destinations that vanished from a new capture, or,
in a baseline, everything new. `lab diff` refuses such captures (a CaptureError, exit 2)
unless `--allow-partial` says to compare them anyway, and then says which they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.analysis.read import check_manifest
from harness.errors import CaptureError

INCOMPLETE = ("partial", "failed", "interrupted")  # run.json statuses of runs that did not complete
NO_MANIFEST = "incomplete"  # as analysis names a capture without run.json
MAX_ERROR = 200


@dataclass(frozen=True)
class Incomplete:
    path: Path
    status: str  # partial | failed | interrupted | incomplete (no run.json)
    error: str | None = None

    def describe(self) -> str:
        what = "no run.json (the run was killed?)" if self.status == NO_MANIFEST else f"run {self.status}"
        return f"{self.path}: {what}" + (f" ({self.error})" if self.error else "")

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "status": self.status, "error": self.error}


def incomplete(dirs: Sequence[Path]) -> list[Incomplete]:
    """The captures among `dirs` whose run did not complete (CaptureError if one is no capture)."""
    found = []
    for path in dirs:
        run = check_manifest(Path(path))
        status = run.get("status") if run else NO_MANIFEST
        if status == NO_MANIFEST or status in INCOMPLETE:
            error = run.get("error") if run else None
            text = " ".join(str(error).split())[:MAX_ERROR] if error else None
            found.append(Incomplete(Path(path), str(status), text))
    return found


def check_complete(dirs: Sequence[Path], allow_partial: bool = False) -> list[Incomplete]:
    """`incomplete(dirs)`, refused with a CaptureError unless `allow_partial`."""
    found = incomplete(dirs)
    if found and not allow_partial:
        raise CaptureError("; ".join(f.describe() for f in found)
                           + ": not judged, since what the run did not capture would read as changes; "
                           "`lab diff --allow-partial` compares anyway")
    return found
