"""One run of a campaign, as a Dask task on the worker that has its handset.

The task runs `lab run PROFILE --device SERIAL --out STORE/captures/<run key> --json` as a
child process (mitmproxy keeps its context in module globals: one run per process), with
the worker's own lab.yaml, and returns what the index needs: status, error, host, the
capture folder (relative to the store) and the sha256 of its run.json.

While the child runs the task reports progress (flows so far) on the campaign's event
topic, and watches three things that stop it: the campaign's stop event (Ctrl-C in
`lab campaign run`), its own cancellation (the client went away), and the worker
stopping (Ctrl-C or SIGTERM to `lab worker`). Each sends the child SIGINT, which winds the
run down as Ctrl-C does in `lab run`: teardown, restore, run.json. A child that does not
end escalates to SIGTERM, then SIGKILL (its journal then stays for `lab restore`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capture import FLOWS_JSONL, RUN_JSON, make_private_dir
from harness.capture.manifest import sha256_file
from harness.capture.store import CAMPAIGN_JSON, Store
from harness.run.one_handset import CAMPAIGN_ENV, CAMPAIGN_RUN_ENV, WORKER_ENV
from harness.run.placement import LabHost, lab_host

# `lab` without relying on a console script on the worker's PATH: the same interpreter.
LAB_COMMAND = (sys.executable, "-c", "from harness.cli.main import main; main(prog_name='lab')")
POLL_SECONDS = 0.5
PROGRESS_SECONDS = 2.0
GRACE_SECONDS = (180.0, 60.0)  # after SIGINT, then after SIGTERM, before the next signal


def topic(campaign: str) -> str:
    """The event topic a campaign's runs report on."""
    return f"lab-campaign:{campaign}"


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to run one (profile, handset, repetition) of a campaign."""

    campaign: str
    key: str
    profile: str
    profile_text: str  # the profile file's text: the workers need not share the client's files
    handset: str
    repetition: int
    store: str  # the store's path, the same on every host
    stop_event: str  # the Dask Event that asks every run of this campaign to stop


class _FlowCounter:
    """Counts the lines of the newest capture's flows.jsonl, reading only what is new."""

    def __init__(self, folder: Path, since: float):
        self.folder, self.since = folder, since
        self.path: Path | None = None
        self.offset = self.count = 0

    def capture(self) -> Path | None:
        """This attempt's capture folder: the newest one made since the task started."""
        try:
            found = [p for p in self.folder.iterdir() if p.is_dir() and p.stat().st_mtime >= self.since - 1]
        except OSError:
            return None
        return max(found, key=lambda p: p.stat().st_mtime, default=None)

    def flows(self) -> int:
        if self.path is None:
            self.path = self.capture()
            if self.path is None:
                return 0
        try:
            with (self.path / FLOWS_JSONL).open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return self.count
        self.offset += len(data)
        self.count += data.count(b"\n")
        return self.count


def run_task(spec: RunSpec) -> dict[str, Any]:
    """The task body: run the child, watch it, return the run's record fields."""
    from distributed import Event, get_worker

    worker = get_worker()
    host = lab_host(worker)
    key = worker.get_current_task()
    started = time.time()
    base = {"key": spec.key, "host": host.label, "worker": worker.address, "started": started}
    worker.log_event(topic(spec.campaign), {"key": spec.key, "event": "started", "host": host.label})
    store = Path(spec.store)
    if not (store / CAMPAIGN_JSON).is_file():
        return {**base, "status": "failed", "ended": time.time(),
                "error": f"the store {store} is not reachable on host {host.label}: mount it at the same "
                         "path on every host"}
    stop = Event(spec.stop_event)
    if stop.is_set() or host.stopping.is_set():
        return {**base, "status": "interrupted", "ended": time.time(), "error": "stopped before it started"}
    folder = make_private_dir(Store(store, {}).run_folder(spec.key))
    with tempfile.TemporaryDirectory(prefix="lab-campaign-") as tmp:
        profile = Path(tmp) / "profile.yaml"
        profile.write_text(spec.profile_text, encoding="utf-8")
        os.chmod(profile, 0o600)
        outcome = _run_child(spec, host, profile, folder, started,
                             lambda: stop.is_set() or host.stopping.is_set() or _cancelled(worker, key),
                             lambda flows: worker.log_event(topic(spec.campaign), {
                                 "key": spec.key, "event": "progress", "host": host.label, "flows": flows}))
    return {**base, **outcome, "ended": time.time()}


def _cancelled(worker: Any, key: Any) -> bool:
    task = worker.state.tasks.get(key)
    return task is None or task.state in ("cancelled", "released", "forgotten")


def _run_child(spec: RunSpec, host: LabHost, profile: Path, folder: Path, started: float,
               should_stop: Any, report: Any) -> dict[str, Any]:
    cmd = [*LAB_COMMAND, "run", str(profile), "--device", spec.handset, "--lab", str(host.lab_path),
           "--out", str(folder), "--json", "--quiet"]
    env = {**os.environ, CAMPAIGN_ENV: spec.campaign, CAMPAIGN_RUN_ENV: spec.key, WORKER_ENV: host.label}
    counter = _FlowCounter(folder, started)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=host.cwd)
    signals = iter((signal.SIGINT, signal.SIGTERM, signal.SIGKILL))
    deadline: float | None = None
    last_report = 0.0
    while True:
        try:
            out, err = proc.communicate(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if deadline is None and should_stop():
            deadline = now
        if deadline is not None and now >= deadline:
            sig = next(signals, signal.SIGKILL)
            proc.send_signal(sig)
            deadline = now + (GRACE_SECONDS[0] if sig == signal.SIGINT else GRACE_SECONDS[1])
        if now - last_report >= PROGRESS_SECONDS:
            last_report = now
            report(counter.flows())
    return _outcome(proc.returncode, out, err, counter, host, Path(spec.store))


def _outcome(code: int, out: str, err: str, counter: _FlowCounter, host: LabHost,
             store: Path) -> dict[str, Any]:
    """The record fields from the child's JSON, or from its exit and stderr when it gave none."""
    result: dict[str, Any] = {}
    try:
        parsed = json.loads(out)
        if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
            result = parsed[0]
    except ValueError:
        pass
    capture = Path(result["run_dir"]) if result.get("run_dir") else counter.capture()
    record: dict[str, Any] = {"status": str(result.get("status") or "failed"), "error": result.get("error")}
    if not result:
        lines = [line.removeprefix("lab: ") for line in err.strip().splitlines() if line.strip()]
        how = f"exit {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"
        record["error"] = f"lab run on {host.label} ended ({how}) without a result" + (
            f": {lines[-1]}" if lines else "")
    if capture is not None:
        record["capture"] = Path(os.path.relpath(capture, store)).as_posix()
        record["run_id"] = capture.name
        manifest = capture / RUN_JSON
        if manifest.is_file():
            record["manifest_sha256"] = sha256_file(manifest)
    return record
