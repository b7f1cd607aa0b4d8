"""The step timeline of a run: what ran when, on which app, and how it ended.

Analysis uses it to attribute flows to the app in front during a step, so every entry
carries its start and end (epoch seconds) and the package it concerned.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class StepStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"


@dataclass
class StepRecord:
    index: int
    kind: str
    args: dict[str, Any]
    package: str | None = None
    phase: str | None = None  # the profile's `phase:` of the step
    start: float = field(default_factory=time.time)
    end: float | None = None
    status: StepStatus = StepStatus.RUNNING
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    prompt: dict[str, Any] | None = None  # a manual step: message, asked, confirmed, answered, reason

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Timeline:
    """Thread-safe list of step records, plus run-level events (app died, device lost)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.steps: list[StepRecord] = []
        self.events: list[dict[str, Any]] = []

    def begin(self, index: int, kind: str, args: dict[str, Any], package: str | None,
              phase: str | None = None) -> StepRecord:
        record = StepRecord(index=index, kind=kind, args=args, package=package, phase=phase)
        with self._lock:
            self.steps.append(record)
        return record

    def end(self, record: StepRecord, status: StepStatus, error: str | None = None) -> None:
        status = StepStatus(status)  # ValueError for a status that is none
        with self._lock:
            record.end = time.time()
            record.status = status
            record.error = error

    def failed(self) -> list[StepRecord]:
        with self._lock:
            return [s for s in self.steps if s.status == StepStatus.FAILED]

    def event(self, kind: str, **details: Any) -> None:
        with self._lock:
            self.events.append({"ts": time.time(), "kind": kind, **details})

    def as_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.as_dict() for s in self.steps]

    def events_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)


def failures_note(failed: list[StepRecord], total: int, shown: int = 3) -> str:
    """`N of TOTAL steps failed: step I KIND: ERROR; ...` (the first `shown` of them)."""
    parts = [f"step {s.index} {s.kind}: {s.error or 'failed'}" for s in failed[:shown]]
    if len(failed) > shown:
        parts.append(f"{len(failed) - shown} more in run.json's steps")
    return f"{len(failed)} of {total} steps failed: " + "; ".join(parts)
