"""The person at the handset: manual steps are asked of them, and their answer timed.

A `prompt` step (and, on a real phone, `sim` and `account`) shows its message and waits
for Enter up to the step's timeout. `AtTerminal` asks on the terminal the run was started
from; `Absent` never waits: a run with no terminal (stdin not a TTY, several handsets at
once) or with --yes records each manual step as not confirmed, with the reason.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TextIO

POLL = 0.2


@dataclass(frozen=True)
class Answer:
    """What came of a manual step: `confirmed` at `answered`, or why not (`reason`)."""

    message: str
    asked: float
    confirmed: bool
    answered: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Technician(Protocol):
    def ask(self, message: str, timeout: float, stop: threading.Event) -> Answer: ...


class Absent:
    """Nobody to ask: every manual step is not confirmed, for `reason`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def ask(self, message: str, timeout: float, stop: threading.Event) -> Answer:
        return Answer(message, time.time(), False, reason=self.reason)


def _minutes(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class AtTerminal:
    """Asks on a terminal: Enter confirms, `s` + Enter skips; Ctrl-C (the run's stop)
    and the timeout end the wait unconfirmed."""

    def __init__(self, label: str = "", stdin: TextIO | None = None, out: TextIO | None = None) -> None:
        self.label = label
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = out if out is not None else sys.stderr
        self._lock = threading.Lock()  # one question at a time on one terminal

    def ask(self, message: str, timeout: float, stop: threading.Event) -> Answer:
        with self._lock:
            asked = time.time()
            who = f"[{self.label}] " if self.label else ""
            self.out.write(f"\n{who}>>> {message}\n{who}    press Enter when done, or s + Enter to skip "
                           f"(waiting up to {_minutes(timeout)})\n")
            self.out.flush()
            deadline = time.monotonic() + timeout
            fd = self.stdin.fileno()
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return Answer(message, asked, False, reason=f"no confirmation within {_minutes(timeout)}")
                ready, _, _ = select.select([fd], [], [], min(POLL, left))
                if not ready:
                    continue
                line = os.read(fd, 4096).decode("utf-8", "replace")
                if not line:
                    return Answer(message, asked, False, reason="the terminal closed")
                if line.strip().lower() in ("s", "skip"):
                    return Answer(message, asked, False, time.time(), reason="skipped by the technician")
                return Answer(message, asked, True, time.time())
            return Answer(message, asked, False, reason="the run was interrupted")


def technician_for(assume_yes: bool, stdin: TextIO | None = None) -> Technician:
    """AtTerminal when the run can ask (stdin is a terminal and no --yes), else Absent."""
    stdin = stdin if stdin is not None else sys.stdin
    if assume_yes:
        return Absent("--yes: manual steps are not waited for")
    try:
        interactive = stdin.isatty()
    except (ValueError, OSError):  # closed or detached stdin
        interactive = False
    if not interactive:
        return Absent("no terminal to ask on (stdin is not a TTY)")
    return AtTerminal(stdin=stdin)


NOBODY = Absent("no technician: this run does not ask (several handsets at once, or no terminal)")
