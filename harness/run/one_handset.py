"""One handset's run, in this process: DeviceInfo, journal, proxy (own port), prepare,
instrumentation, the profile's steps, then teardown and restore, always: on success,
on Ctrl-C, SIGTERM or SIGHUP (status `interrupted`), on an exception (status `failed`).
A step that fails makes the run `partial` (or `failed` when every step failed).
`run.json` is written last. A SIGKILL leaves flows.jsonl/hooks.jsonl readable up to the
last flushed record and the journal in the lab state folder for `lab restore`.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness import __version__
from harness.analysis.export import export_after_run
from harness.capture import CANARIES_JSON, make_private_dir, write_manifest
from harness.config import LabConfig, Profile, step_kind
from harness.errors import DeviceLostError, HarnessError
from harness.run.progress import HandsetProgress, ProgressDisplay, ProgressSnapshot
from harness.run.session import HandsetSession
from harness.run.steps import StepRunner, planned_seconds
from harness.run.technician import NOBODY, Technician
from harness.run.timeline import Timeline, failures_note

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Set by a campaign's task (harness/run/campaign_task.py) in its `lab run` child's environment.
CAMPAIGN_ENV, CAMPAIGN_RUN_ENV, WORKER_ENV = "LAB_CAMPAIGN", "LAB_CAMPAIGN_RUN", "LAB_WORKER"


class RunStatus(StrEnum):
    OK = "ok"
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, SIGHUP
    FAILED = "failed"  # no step could be played, or the run itself failed (handset lost, ...)
    PARTIAL = "partial"  # some steps failed: the capture lacks what they would have shown


@dataclass(frozen=True)
class RunResult:
    serial: str
    run_dir: Path
    status: RunStatus
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    capture: str | None = None  # the capture mode and why ("wireguard capture: auto: ..."), once chosen

    def __post_init__(self) -> None:  # a status read back from JSON (a child's result) is a value
        object.__setattr__(self, "status", RunStatus(self.status))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        return data


def new_run_id(profile: Profile, serial: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"{stamp}-{profile.name}-{_UNSAFE.sub('_', serial)}-{secrets.token_hex(3)}"


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"harness": __version__, "python": platform.python_version()}
    for dist in ("mitmproxy", "frida", "frida-tools", "adbutils", "pandas"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = "absent"
    versions["adb"] = _adb_version()
    return versions


def _adb_version() -> str:
    import subprocess

    import adbutils

    try:
        out = subprocess.run([adbutils.adb_path(), "version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    match = re.search(r"Android Debug Bridge version ([\d.]+)", out)
    revision = re.search(r"Version ([\w.-]+)", out)
    return " ".join(m.group(1) for m in (match, revision) if m) or "unknown"


class HandsetRun:
    """One profile on one handset, into one capture folder."""

    def __init__(self, lab: LabConfig, lab_path: Path, profile: Profile, profile_path: Path,
                 serial: str, out_root: Path, stop: threading.Event, progress: HandsetProgress,
                 technician: Technician = NOBODY, doctor: bool = True):
        self.lab, self.lab_path, self.profile, self.profile_path = lab, lab_path, profile, profile_path
        self.serial = serial
        self.technician = technician  # asked at manual steps (prompt; sim, account on a real phone)
        self.doctor = doctor  # lab doctor's quick checks before anything changes (session.preflight)
        self.stop = stop
        self.progress = progress
        self.run_id = new_run_id(profile, serial)
        self.run_dir = make_private_dir(out_root / self.run_id)
        self.timeline = Timeline()
        self.started = time.time()

    def execute(self) -> RunResult:
        status, error = RunStatus.OK, None
        session = HandsetSession(self.lab, self.profile, self.serial, self.run_dir, self.timeline,
                                 doctor=self.doctor, technician=self.technician, stop=self.stop)
        self.progress.counters = session.counters
        try:
            self.progress.update(phase="connecting")
            session.open()
            self.progress.update(serial=session.serial, phase="preparing")
            session.prepare()
            self.progress.update(phase="steps")
            status = self._steps(session)
        except DeviceLostError as e:
            status, error = RunStatus.FAILED, f"handset lost mid-run: {e}"
            self.timeline.event("device_lost", error=str(e))
        except HarnessError as e:
            status, error = RunStatus.FAILED, str(e)
        except KeyboardInterrupt:
            status = RunStatus.INTERRUPTED
        finally:
            status, error = self._judge_steps(status, error)
            self.progress.update(phase="restoring")
            teardown_errors = session.close()
            if teardown_errors and status == RunStatus.OK:
                status, error = RunStatus.FAILED, "; ".join(teardown_errors)
            elif teardown_errors:
                error = "; ".join([error or "", *teardown_errors]).strip("; ")
            counts = session.final_counts()
            self._write_manifest(session, status, error, counts)
            self.progress.update(phase="exporting")
            export_after_run(self.run_dir, self.lab.policy)  # report/export/, outside the manifest; never raises
            self.progress.update(phase="done", status=status)
        return RunResult(session.serial, self.run_dir, status, error, counts, session.capture_line())

    def _judge_steps(self, status: RunStatus, error: str | None) -> tuple[RunStatus, str | None]:
        """A run whose steps failed is not ok: `failed` if none succeeded, else `partial`."""
        failed = self.timeline.failed()
        if not failed:
            return status, error
        note = failures_note(failed, len(self.profile.steps))
        if status == RunStatus.OK:
            return (RunStatus.FAILED if len(failed) == len(self.profile.steps) else RunStatus.PARTIAL), note
        return status, "; ".join(e for e in (error, note) if e)

    def _steps(self, session: HandsetSession) -> RunStatus:
        runner = StepRunner(session, self.stop, self.timeline, self.technician)
        elapsed_planned = 0.0
        for index, step in enumerate(self.profile.steps, start=1):
            if self.stop.is_set():
                return RunStatus.INTERRUPTED
            self.progress.update(step_index=index, step=step_kind(step))
            runner.run(index, step)
            elapsed_planned += planned_seconds(step)
            self.progress.update(elapsed_planned=elapsed_planned)
        return RunStatus.INTERRUPTED if self.stop.is_set() else RunStatus.OK

    def _write_manifest(self, session: HandsetSession, status: RunStatus, error: str | None,
                        counts: dict[str, int]) -> None:
        profile_copy = self.run_dir / "profile.yaml"
        if self.profile_path.is_file() and not profile_copy.exists():
            shutil.copyfile(self.profile_path, profile_copy)
            os.chmod(profile_copy, 0o600)
        manifest = {
            "run_id": self.run_id,
            "status": status.value,
            "error": error,
            "started": self.started,
            "ended": time.time(),
            "profile": self.profile.model_dump(mode="json"),
            "lab": self.lab.model_dump(mode="json"),
            "device": session.device_info(),
            "requested_device": self.serial,  # as asked: virtual:NAME, a lab.yaml serial, or None
            "network": self.lab.proxy.network.value,
            "proxy": session.proxy_info(),
            "tools": tool_versions(),
            "steps": self.timeline.as_list(),
            "events": self.timeline.events_list(),
            "counts": counts,
            "canaries": CANARIES_JSON if (self.run_dir / CANARIES_JSON).exists() else None,
            **placement(),
        }
        write_manifest(self.run_dir, manifest, self.lab.signing_key)


def placement() -> dict[str, Any]:
    """Where the run ran: this host (and the `lab worker` name a campaign placed it with),
    and the campaign and run key when a campaign's task started it."""
    env = os.environ
    out: dict[str, Any] = {"host": {"name": platform.node(), "worker": env.get(WORKER_ENV) or None}}
    if env.get(CAMPAIGN_ENV):
        out["campaign"] = {"id": env[CAMPAIGN_ENV], "run": env.get(CAMPAIGN_RUN_ENV) or None}
    return out


def execute_into(run: HandsetRun, results: list[RunResult]) -> None:
    """A worker thread's body: an unexpected error still yields a result, with its traceback."""
    try:
        results.append(run.execute())
    except Exception as e:  # the run's last line of defence: report, never vanish
        logging.getLogger(__name__).exception("run on %s crashed", run.serial)
        results.append(RunResult(run.serial, run.run_dir, RunStatus.FAILED,
                                 f"internal error: {type(e).__name__}: {e}"))


INTERRUPTING = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (an SSH session that drops) end a run like Ctrl-C does: teardown,
    restore, manifest. After a hang-up the terminal is gone: what was written to it goes
    to /dev/null instead, so the progress display and the last lines cannot fail on it.
    A signal this process was started ignoring (`nohup lab run ...`) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    terminals = [fd for fd in (0, 1, 2) if os.isatty(fd)]  # a hung-up terminal no longer says

    def handler(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            _detach(terminals)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, handler) for signum in INTERRUPTING
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


def _detach(fds: list[int]) -> None:
    if not fds:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def run_one(lab: LabConfig, lab_path: Path, profile: Profile, profile_path: Path, serial: str,
            out_root: Path, quiet: bool,
            publish: Callable[[ProgressSnapshot], None] | None = None,
            technician: Technician = NOBODY, doctor: bool = True) -> RunResult:
    """One handset in this process; `publish` gets a progress snapshot every tick (a child
    process sends them to its parent's display)."""
    stop = threading.Event()
    progress = HandsetProgress(serial, len(profile.steps), sum(planned_seconds(s) for s in profile.steps))
    run = HandsetRun(lab, lab_path, profile, profile_path, serial, out_root, stop, progress, technician, doctor)
    results: list[RunResult] = []
    thread = threading.Thread(target=execute_into, args=(run, results), name=f"run-{serial}", daemon=True)
    tick = (lambda: publish(progress.snapshot())) if publish else None
    with interrupt_on_signals(), ProgressDisplay(quiet) as display:
        display.add(progress)
        thread.start()
        _join_all([thread], stop, tick)
    return results[0] if results else RunResult(serial, run.run_dir, RunStatus.FAILED, "worker ended without result")


def _join_all(threads: list[threading.Thread], stop: threading.Event,
              tick: Callable[[], None] | None = None) -> None:
    """Wait for the workers; the first Ctrl-C asks them to wind down and restore.

    Polls is_alive() after short sleeps instead of Thread.join(timeout): before Python
    3.13 a KeyboardInterrupt landing inside join() can mark a live thread as stopped."""
    while True:
        try:
            if not any(t.is_alive() for t in threads):
                return
            if tick is not None:
                tick()
            time.sleep(0.2)
        except KeyboardInterrupt:
            stop.set()
