"""A campaign run: every (profile, handset, repetition) of a campaign file, placed where its
handset is (run/placement.py), each run a `lab run` into the campaign's store
(run/campaign_task.py), the index (`campaign.json`) written by this client alone.

Runs done before (ok, and their capture still verifies) are skipped. While runs go on,
this client follows the cluster: a run whose worker is lost mid-run is failed with the
reason (and not run again when the worker comes back: its `lab worker` restores the
handset from the journal at start); a run no worker can take (its handset is offered by
no worker) for `wait_seconds` is failed; the others go on. Ctrl-C (or SIGTERM, SIGHUP)
asks every run to wind down (teardown, restore, run.json) and waits for them; a second
one leaves at once, the runs still winding down on their workers.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed import Future

from harness.capture import RUN_JSON, read_manifest
from harness.capture.manifest import sha256_file
from harness.capture.store import DONE, RunRecord, Store, run_key
from harness.config import Policy
from harness.config.campaign import LoadedCampaign
from harness.errors import CaptureError
from harness.run.baselines import judge_pairs
from harness.run.campaign_progress import CampaignDisplay
from harness.run.campaign_task import RunSpec, run_task, topic
from harness.run.placement import CONNECT_SECONDS, Placement

POLL_SECONDS = 0.25
CLUSTER_SECONDS = 2.0
EXIT_OK, EXIT_REGRESSION, EXIT_DEVICE, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass
class CampaignOutcome:
    campaign: str
    store: Path
    mode: str
    runs: list[RunRecord]  # every run of the campaign, in plan order
    skipped: list[str] = field(default_factory=list)  # done before and verified: not run again
    baselines: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def missing(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status != DONE]

    @property
    def exit_code(self) -> int:
        """3 when a run failed, is partial or missing; 130 when interrupted; 1 when a
        baseline pair regressed; else 0."""
        if any(r.status not in (DONE, "interrupted") for r in self.runs):
            return EXIT_DEVICE
        if self.interrupted or self.missing:
            return EXIT_INTERRUPTED
        return EXIT_REGRESSION if any(b.get("verdict") == "regression" for b in self.baselines) else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign, "store": str(self.store), "mode": self.mode,
            "runs": [{**r.as_dict(), "skipped": r.key in self.skipped} for r in self.runs],
            "missing": [r.key for r in self.missing], "baselines": self.baselines,
            "interrupted": self.interrupted, "exit_code": self.exit_code,
        }


def plan(loaded: LoadedCampaign) -> list[RunRecord]:
    """Every run of the campaign, repetition by repetition, each profile on every handset."""
    return [RunRecord(run_key(p.name, h.serial, rep), p.name, h.serial, rep)
            for rep in range(1, loaded.campaign.repetitions + 1)
            for p in loaded.profiles for h in loaded.campaign.handsets]


@contextmanager
def counted_signals() -> Iterator[list[int]]:
    """SIGINT, SIGTERM and SIGHUP counted, not raised: the index is never left half-written."""
    count: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield count
        return
    wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, lambda signum, frame: count.append(signum)) for s in wanted
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield count
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


class CampaignRun:
    """One `lab campaign run`: plan, skip what is done, submit, follow, index."""

    def __init__(self, loaded: LoadedCampaign, store: Store, placement: Placement, display: CampaignDisplay,
                 policy: Policy | None = None, public_key: Path | bytes | None = None,
                 wait_seconds: float = 60.0):
        self.loaded, self.store, self.placement, self.display = loaded, store, placement, display
        self.policy, self.public_key, self.wait_seconds = policy, public_key, wait_seconds
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.records: dict[str, RunRecord] = {}
        self.pending: dict[str, Future] = {}
        self.unplaced: dict[str, float] = {}
        self.hosts: dict[str, str] = {}  # worker address -> host name
        self.seen_hosts: dict[str, dict[str, Any]] = {}  # as last written to the index
        self.disconnected = 0.0  # since when the scheduler is out of reach (monotonic), else 0
        self.stop_name = f"lab-campaign-stop:{loaded.name}:{os.getpid()}:{time.time_ns()}"

    def execute(self) -> CampaignOutcome:
        planned = plan(self.loaded)
        index = self.store.read()
        skipped = [r.key for r in planned if self.store.done(index.runs.get(r.key), self.public_key)]
        for record in planned:
            self.records[record.key] = index.runs[record.key] if record.key in skipped else \
                self._fresh(record, index.runs.get(record.key))
            self.display.run(self.records[record.key], "done before" if record.key in skipped else "")
        todo = [r for r in planned if r.key not in skipped]
        self.store.update([self.records[r.key] for r in todo], handsets={
            h.serial: {"label": h.label} for h in self.loaded.campaign.handsets})
        interrupted = self._follow(todo) if todo else False
        final = self.store.read()
        runs = [final.runs.get(r.key, self.records[r.key]) for r in planned]
        verdicts = judge_pairs(self.loaded, self.store, final.runs, self.policy) if self.loaded.campaign.baselines else []
        if verdicts:
            self.store.update(baselines=verdicts)
        return CampaignOutcome(self.loaded.name, self.store.root, self.placement.mode, runs, skipped,
                               verdicts, interrupted)

    def _fresh(self, record: RunRecord, old: RunRecord | None) -> RunRecord:
        """The record of a run about to be (re)run: an earlier attempt's capture is kept as superseded."""
        if old is None:
            return record
        superseded = list(old.superseded) + ([old.capture] if old.capture else [])
        return replace(record, attempts=old.attempts, superseded=superseded)

    # --- following the cluster ------------------------------------------------------

    def _follow(self, todo: list[RunRecord]) -> bool:
        self.placement.subscribe(topic(self.loaded.name), lambda event: self.events.put(("run", event[1])))
        self.placement.subscribe("all", lambda event: self.events.put(("cluster", event[1])))
        stop = self.placement.event(self.stop_name)
        for record in todo:
            profile = self.loaded.profile(record.profile)
            spec = RunSpec(self.loaded.name, record.key, record.profile, profile.text, record.handset,
                           record.repetition, str(self.store.root), self.stop_name)
            key = f"lab-run:{self.loaded.name}:{record.key}:{time.time_ns()}"
            self.pending[record.key] = self.placement.submit(run_task, spec, key, record.handset)
        interrupts_seen = 0
        last_look = 0.0
        with counted_signals() as interrupts:
            while self.pending:
                if len(interrupts) > interrupts_seen:
                    interrupts_seen = len(interrupts)
                    if interrupts_seen == 1:
                        self.display.note("stopping: each run winds down and restores its handset "
                                          "(Ctrl-C again to leave without waiting)")
                        stop.set()
                        self._give_up("the campaign was stopped before the run started",
                                      [k for k, r in self.records.items() if k in self.pending
                                       and r.status != "running"])
                    else:
                        self._give_up("interrupted: the campaign client left before the run ended")
                        break
                self._drain_events()
                self._collect()
                if time.monotonic() - last_look >= CLUSTER_SECONDS:
                    last_look = time.monotonic()
                    self._look_at_cluster()
                time.sleep(POLL_SECONDS)
        stop.clear()
        return interrupts_seen > 0

    def _save(self, record: RunRecord, note: str = "") -> None:
        record.updated = time.time()
        self.records[record.key] = record
        self.store.update([record])
        self.display.run(record, note)

    def _drain_events(self) -> None:
        while True:
            try:
                kind, msg = self.events.get_nowait()
            except queue.Empty:
                return
            if not isinstance(msg, dict):
                continue
            if kind == "run":
                self._run_event(msg)
            elif msg.get("action") == "remove-worker":
                self._worker_lost(str(msg.get("worker")), set(msg.get("processing-tasks") or ()),
                                  set(msg.get("lost-computed-tasks") or ()))

    def _run_event(self, msg: dict[str, Any]) -> None:
        key = msg.get("key")
        if key not in self.pending:
            return
        if msg.get("worker"):
            self.hosts[str(msg["worker"])] = str(msg.get("host"))
        if msg.get("event") == "started":
            record = self.records[key]
            self.unplaced.pop(key, None)
            self._save(replace(record, status="running", host=msg.get("host"), worker=msg.get("worker"),
                               started=time.time(), attempts=record.attempts + 1, error=None))
        elif msg.get("event") == "progress" and isinstance(msg.get("flows"), int):
            self.display.flows(key, msg["flows"])

    def _worker_lost(self, address: str, processing: set[str], results_lost: set[str]) -> None:
        """A worker left: its running runs failed (not run again when it comes back), and a
        finished run whose result went with it is read from its capture in the store."""
        host = self.hosts.get(address, address)
        self.display.host(host, (), state="lost")
        self.store.update(hosts={host: {"state": "lost", "lost": time.time()}})
        self.seen_hosts.pop(host, None)
        lost = [key for key, fut in self.pending.items() if fut.key in results_lost
                or (fut.key in processing and self.records[key].status == "running")]
        reason = (f"the worker on host {host} ({address}) was lost mid-run; its `lab worker` restores "
                  "the handset from its journal when it starts again")
        self.placement.cancel([self.pending.pop(key) for key in lost])
        for key in lost:
            self._save(self._from_store(self.records[key], reason))

    def _from_store(self, record: RunRecord, reason: str) -> RunRecord:
        """The record of an attempt whose task said nothing: from the capture it left in the
        store (its run.json if it got that far), else failed with `reason`."""
        folder = self.store.run_folder(record.key)
        known = set(record.superseded) | ({record.capture} if record.capture else set())
        try:
            found = [p for p in folder.iterdir() if p.is_dir() and self.store.relative(p) not in known]
        except OSError:
            found = []
        failed = replace(record, status="failed", error=reason, ended=time.time())
        if not found:
            return failed
        newest = max(found, key=lambda p: p.stat().st_mtime)
        failed = replace(failed, capture=self.store.relative(newest), run_id=newest.name)
        try:
            manifest = read_manifest(newest)
        except CaptureError:
            return failed
        return replace(failed, status=str(manifest.get("status") or "failed"), error=manifest.get("error"),
                       manifest_sha256=sha256_file(newest / RUN_JSON), ended=manifest.get("ended") or time.time())

    def _collect(self) -> None:
        for key, fut in list(self.pending.items()):
            if fut.status == "finished":
                result = fut.result()
                record = self.records[key]
                fields = {k: v for k, v in result.items() if k in record.as_dict() and k != "key"}
                fields.setdefault("error", None)
                self._save(replace(record, **fields, attempts=max(record.attempts, 1)))
            elif fut.status == "error":
                error = fut.exception()
                self._save(replace(self.records[key], status="failed", ended=time.time(),
                                   error=f"{type(error).__name__}: {error}"))
            elif fut.status == "lost":  # finished, but its result went with its worker
                self.placement.cancel([fut])
                self._save(self._from_store(self.records[key], "its result was lost with its worker"))
            elif fut.status != "cancelled":
                continue
            del self.pending[key]

    def _look_at_cluster(self) -> None:
        """Hosts and their handsets; runs no worker can take wait `wait_seconds`, then fail;
        a scheduler out of reach for CONNECT_SECONDS fails every run still pending."""
        now = time.monotonic()
        if not self.placement.connected:
            self.disconnected = self.disconnected or now
            if now - self.disconnected >= CONNECT_SECONDS:
                self._give_up(f"lost the Dask scheduler at {self.placement.mode}", status="failed")
            return
        self.disconnected = 0.0
        workers = self.placement.workers()
        offered: set[str] = set()
        for view in workers:
            self.hosts[view.address] = view.host
            offered.update(view.handsets)
            self.display.host(view.host, view.handsets)
        hosts = {v.host: {"address": v.address, "handsets": list(v.handsets), "state": "up"} for v in workers}
        if hosts != self.seen_hosts:
            self.seen_hosts = hosts
            self.store.update(hosts={name: {**h, "seen": time.time()} for name, h in hosts.items()})
        for key in list(self.pending):
            record = self.records[key]
            if record.status == "running" or record.handset in offered:
                self.unplaced.pop(key, None)
                continue
            since = self.unplaced.setdefault(key, now)
            if now - since >= self.wait_seconds:
                self.placement.cancel([self.pending.pop(key)])
                self._save(replace(record, status="failed", ended=time.time(), error=(
                    f"no worker offered handset {record.handset} for {self.wait_seconds:.0f} s: is "
                    "`lab worker` running on its host, with that handset?")))

    def _give_up(self, reason: str, keys: list[str] | None = None, status: str = "interrupted") -> None:
        """Cancel the runs of `keys` (default: every one still pending), recorded `status`."""
        keys = list(self.pending) if keys is None else keys
        self.placement.cancel([self.pending[k] for k in keys])
        for key in keys:
            del self.pending[key]
            self._save(replace(self.records[key], status=status, error=reason, ended=time.time()))
