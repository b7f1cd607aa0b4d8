"""Live progress of a campaign: a row per host (its handsets, runs running, done, failed)
and a row per run (host, status, elapsed, flows), drawn with rich on stderr; nothing
when quiet (--json, --quiet)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from harness.capture.store import RunRecord

MAX_RUN_ROWS = 40
_ORDER = {"running": 0, "failed": 1, "partial": 1, "interrupted": 1, "pending": 2, "ok": 3}


@dataclass
class RunRow:
    key: str
    status: str = "pending"
    host: str = ""
    started: float | None = None
    ended: float | None = None
    flows: int | None = None
    note: str = ""  # skipped, error


@dataclass
class HostRow:
    name: str
    handsets: tuple[str, ...] = ()
    state: str = "up"
    runs: dict[str, str] = field(default_factory=dict)  # key -> status


def _elapsed(row: RunRow) -> str:
    if row.started is None:
        return ""
    seconds = int((row.ended or time.time()) - row.started)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def render(campaign: str, hosts: list[HostRow], runs: list[RunRow], notes: list[str]) -> Group:
    host_table = Table(title=f"lab campaign {campaign}: hosts", expand=False)
    for column in ("host", "state", "handsets", "running", "done", "failed"):
        host_table.add_column(column, no_wrap=column != "handsets")
    for host in hosts:
        statuses = list(host.runs.values())
        host_table.add_row(host.name, host.state, ", ".join(host.handsets), str(statuses.count("running")),
                           str(statuses.count("ok")),
                           str(sum(s in ("failed", "partial", "interrupted") for s in statuses)))
    run_table = Table(title="runs", expand=False)
    for column in ("run", "host", "status", "elapsed", "flows", "note"):
        run_table.add_column(column, no_wrap=column != "note", justify="right" if column == "flows" else "left")
    shown = sorted(runs, key=lambda r: _ORDER.get(r.status, 2))[:MAX_RUN_ROWS]
    for row in sorted(shown, key=lambda r: runs.index(r)):
        run_table.add_row(row.key, row.host, row.status, _elapsed(row),
                          "" if row.flows is None else str(row.flows), row.note)
    if len(runs) > len(shown):
        run_table.caption = f"{len(runs) - len(shown)} more run(s) not shown"
    return Group(host_table, run_table, *notes)


class CampaignDisplay:
    """Thread-safe rows, drawn until closed; does nothing when quiet."""

    def __init__(self, campaign: str, quiet: bool, console: Console | None = None):
        self.campaign = campaign
        self.quiet = quiet
        self._lock = threading.Lock()
        self._runs: dict[str, RunRow] = {}
        self._hosts: dict[str, HostRow] = {}
        self._notes: list[str] = []
        self._console = console or Console(stderr=True)
        self._live: Live | None = None

    def run(self, record: RunRecord, note: str = "") -> None:
        with self._lock:
            row = self._runs.setdefault(record.key, RunRow(record.key))
            row.status, row.host = record.status, record.host or row.host
            row.started, row.ended = record.started, record.ended
            row.note = note or (record.error or "")[:80]
            if record.host:
                self._hosts.setdefault(record.host, HostRow(record.host)).runs[record.key] = record.status

    def flows(self, key: str, flows: int) -> None:
        with self._lock:
            if key in self._runs:
                self._runs[key].flows = flows

    def host(self, name: str, handsets: tuple[str, ...], state: str = "up") -> None:
        with self._lock:
            row = self._hosts.setdefault(name, HostRow(name))
            row.handsets, row.state = handsets or row.handsets, state

    def note(self, text: str) -> None:
        with self._lock:
            self._notes.append(text)
        if self.quiet:
            return
        if self._live is None:
            self._console.print(text)

    def _render(self) -> Group:
        with self._lock:
            return render(self.campaign, list(self._hosts.values()), list(self._runs.values()),
                          self._notes[-5:])

    def __enter__(self) -> CampaignDisplay:
        if not self.quiet:
            self._live = Live(get_renderable=self._render, console=self._console, refresh_per_second=2,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
