"""What a running proxy counted and logged: live flow counters for progress displays, and
the tail of mitmproxy's log kept for error messages instead of printed."""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProxyStats:
    """Live counters for progress displays; safe to read from any thread."""

    flows: int = 0
    findings: int = 0
    flagged: int = 0
    tls_failed: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.flows += 1
            self.findings += len(record.get("findings") or ())
            self.flagged += 1 if record.get("flags") else 0
            self.tls_failed += 1 if record.get("kind") == "tls_failed" else 0
            self.errors += 1 if record.get("kind") == "error" else 0

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "flows": self.flows, "findings": self.findings, "flagged": self.flagged,
                "tls_failed": self.tls_failed, "errors": self.errors,
            }


class LogTail(logging.Handler):
    """Keeps mitmproxy's recent log lines (for error messages) instead of printing them."""

    def __init__(self, size: int = 200):
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")
        except (TypeError, ValueError):
            self.lines.append(f"{record.levelname.lower()}: {record.msg!r}")

    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith(("error", "critical"))]
