"""The host half of the message protocol: frida's callbacks in, hooks.jsonl out, on one thread.

Frida calls `on_message` on its own thread. Batches go into a bounded queue consumed by
one writer thread, which enriches each event with device, package and pid (compact rows
through their session's `Dictionary`, binary records through `format_lines`), writes the
batch's lines at once through `JsonlWriter`, and then acknowledges the batch to the agent
(the agent keeps at most a window of unacknowledged batches, so a slow disk makes it
drop and count events instead of growing). A full queue drops the batch and counts it;
every loss, in the agent or here, becomes a `hook:dropped` record with the count.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.capture import JsonlWriter, json_line
from harness.instrument.origin import Origin
from harness.instrument.records import RecordBatch, format_lines
from harness.instrument.rows import Dictionary, format_events

log = logging.getLogger(__name__)

Ack = Callable[[], None]


@dataclass
class PackageCounts:
    events: int = 0  # agent events written
    records: int = 0  # lines written (events, control records, drop reports)
    dropped_agent: int = 0
    dropped_host: int = 0
    unhandled: int = 0


@dataclass(frozen=True)
class SinkStats:
    events: int
    records: int
    dropped_agent: int
    dropped_host: int
    unhandled: int
    per_package: dict[str, PackageCounts] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        return self.dropped_agent + self.dropped_host


_STOP = object()


class HookSink:
    """Bounded queue + one writer thread in front of hooks.jsonl."""

    def __init__(self, writer: JsonlWriter, *, max_batches: int = 256):
        self._writer = writer
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_batches)
        self._lock = threading.Lock()
        self._counts: dict[str, PackageCounts] = {}
        self._host_unreported: dict[Origin, int] = {}
        self._thread = threading.Thread(target=self._run, name="hooks-writer", daemon=True)
        self._closed = False
        self._thread.start()

    # -- called on frida's thread --------------------------------------------------

    def submit_batch(
        self, origin: Origin, events: list[Any] | RecordBatch, dropped: int, ack: Ack,
        dictionary: Dictionary | None = None,
    ) -> None:
        """Queue one agent batch (rows resolve through `dictionary`, which the caller has
        already given the batch's definitions); when the queue is full, count its events as
        dropped."""
        try:
            self._queue.put_nowait((origin, events, dropped, ack, False, dictionary))
        except queue.Full:
            with self._lock:
                counts = self._package(origin.package)
                counts.dropped_host += len(events)
                counts.dropped_agent += dropped
                lost = len(events) + dropped
                self._host_unreported[origin] = self._host_unreported.get(origin, 0) + lost
            ack()

    def submit_record(self, origin: Origin, record: dict[str, Any], timeout: float = 5.0) -> None:
        """Queue a control record (app:died, hook:error ...): waits for room, never dropped."""
        item = (origin, [record], 0, None, True, None)
        try:
            self._queue.put(item, timeout=timeout)
        except queue.Full:
            log.warning("hooks queue stayed full for %.0f s; writing %s directly", timeout, record.get("type"))
            self._writer.write(self._enrich(origin, record))

    def record_loss(self, origin: Origin, count: int, where: str) -> None:
        """Count events lost outside the batch path (e.g. left in the agent at teardown)."""
        with self._lock:
            self._package(origin.package).dropped_agent += count
        self.submit_record(origin, self.dropped_record(origin, count, where))

    def submit_unhandled(self, origin: Origin, message: Any) -> None:
        """A message the protocol does not know: logged and kept in hooks.jsonl, not dropped."""
        log.warning("unhandled frida message from %s/%s: %.300r", origin.package, origin.pid, message)
        with self._lock:
            self._package(origin.package).unhandled += 1
        self.submit_record(origin, {
            "type": "agent:unhandled", "ts": time.time(), "api": None, "category": "agent",
            "value": message, "stack": [],
        })

    # -- writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    self._report_host_drops()
                    return
                self._handle(*item)
            finally:
                self._queue.task_done()

    def _handle(
        self, origin: Origin, events: list[Any] | RecordBatch, dropped: int, ack: Ack | None,
        control: bool, dictionary: Dictionary | None,
    ) -> None:
        if isinstance(events, RecordBatch):
            text = format_lines(events, origin.device, origin.package, origin.pid)
        else:
            text = format_events(events, dictionary, lambda event: self._enrich(origin, event))
        lines = len(events)
        if dropped:
            text += json_line(self.dropped_record(origin, dropped, "agent")) + "\n"
            lines += 1
        try:
            if lines:
                self._writer.write_lines(text, lines)
        except OSError as e:
            log.error("cannot write hooks.jsonl: %s", e)
        self._count(origin, lines, 0 if control else len(events), 0 if control else dropped)
        if ack is not None:
            ack()
        self._report_host_drops()

    def _count(self, origin: Origin, records: int, events: int, dropped: int) -> None:
        with self._lock:
            counts = self._package(origin.package)
            counts.records += records
            counts.events += events
            counts.dropped_agent += dropped

    def _report_host_drops(self) -> None:
        with self._lock:
            pending, self._host_unreported = self._host_unreported, {}
        if pending:
            self._writer.write_many([self.dropped_record(o, n, "host-queue") for o, n in pending.items()])

    @staticmethod
    def dropped_record(origin: Origin, count: int, where: str) -> dict[str, Any]:
        return {
            "ts": time.time(), "device": origin.device, "package": origin.package, "pid": origin.pid,
            "api": None, "category": "agent", "value": str(count), "stack": [],
            "type": "hook:dropped", "count": count, "where": where, "thread": None,
        }

    @staticmethod
    def _enrich(origin: Origin, event: Any) -> dict[str, Any]:
        if not isinstance(event, dict):
            event = {"type": "agent:unhandled", "ts": time.time(), "value": event}
        record = {
            "ts": None, "device": origin.device, "package": origin.package, "pid": origin.pid,
            "api": None, "category": None, "value": None, "stack": [],
        }
        record.update(event)
        record["device"] = origin.device
        record["package"] = origin.package
        record["pid"] = origin.pid
        return record

    def _package(self, package: str) -> PackageCounts:
        counts = self._counts.get(package)
        if counts is None:
            counts = self._counts[package] = PackageCounts()
        return counts

    # -- any thread -------------------------------------------------------------------

    def stats(self) -> SinkStats:
        with self._lock:
            per = {k: PackageCounts(**vars(v)) for k, v in self._counts.items()}
        return SinkStats(
            events=sum(c.events for c in per.values()),
            records=sum(c.records for c in per.values()),
            dropped_agent=sum(c.dropped_agent for c in per.values()),
            dropped_host=sum(c.dropped_host for c in per.values()),
            unhandled=sum(c.unhandled for c in per.values()),
            per_package=per,
        )

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer thread (the JsonlWriter stays open)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("hooks writer did not finish within %.0f s", timeout)
