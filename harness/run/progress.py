"""Live progress of a run: one row per handset, drawn with rich (or nothing with --quiet).

Workers update a `HandsetProgress` from their own threads; the display reads snapshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rich.console import Console
from rich.live import Live
from rich.table import Table


@dataclass(frozen=True)
class ProgressSnapshot:
    serial: str
    phase: str = "starting"
    step_index: int = 0
    step_count: int = 0
    step: str = ""
    started: float = field(default_factory=time.time)
    planned_seconds: float = 0.0
    elapsed_planned: float = 0.0
    flows: int = 0
    findings: int = 0
    hooks: int = 0
    status: str = "running"


class HandsetProgress:
    """Thread-safe progress of one handset's run."""

    def __init__(self, serial: str, step_count: int, planned_seconds: float):
        self._lock = threading.Lock()
        self._snap = ProgressSnapshot(serial, step_count=step_count, planned_seconds=planned_seconds)
        self.counters: Callable[[], tuple[int, int, int]] | None = None

    def update(self, **changes: object) -> None:
        with self._lock:
            self._snap = replace(self._snap, **changes)  # type: ignore[arg-type]

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            snap = self._snap
        if self.counters is not None:
            flows, findings, hooks = self.counters()
            snap = replace(snap, flows=flows, findings=findings, hooks=hooks)
        return snap


def _fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def render(rows: list[ProgressSnapshot]) -> Table:
    table = Table(title="lab run", expand=False)
    for column in ("handset", "phase", "step", "elapsed", "remaining", "flows", "findings", "hooks"):
        table.add_column(column, justify="right" if column in ("flows", "findings", "hooks") else "left",
                         no_wrap=True, min_width=21 if column == "handset" else None)
    now = time.time()
    for snap in rows:
        remaining = max(0.0, snap.planned_seconds - snap.elapsed_planned)
        step = f"{snap.step_index}/{snap.step_count} {snap.step}" if snap.step_count else ""
        table.add_row(
            snap.serial, snap.phase if snap.status == "running" else snap.status, step,
            _fmt_seconds(now - snap.started), f"~{_fmt_seconds(remaining)}",
            str(snap.flows), str(snap.findings), str(snap.hooks),
        )
    return table


class ProgressDisplay:
    """Draws every handset's progress until closed; does nothing when quiet."""

    def __init__(self, quiet: bool, console: Console | None = None):
        self.quiet = quiet
        self.handsets: list[HandsetProgress] = []
        self._console = console or Console(stderr=True)
        self._live: Live | None = None

    def add(self, progress: HandsetProgress) -> None:
        self.handsets.append(progress)

    def __enter__(self) -> ProgressDisplay:
        if not self.quiet:
            self._live = Live(
                get_renderable=lambda: render([h.snapshot() for h in self.handsets]),
                console=self._console, refresh_per_second=4, transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
