"""Several handsets at once: one child process per handset, progress sent to the parent.

mitmproxy keeps its context in module globals, so each handset's proxy needs a process
of its own. Each child runs the same HandsetRun as a single-handset run; a Ctrl-C (or
SIGTERM, or SIGHUP) in the parent is passed to every child as SIGINT, and each child
handles those signals itself too: it winds down and restores.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.config import Profile, load_lab, load_profile
from harness.run.one_handset import RunResult, RunStatus, interrupt_on_signals, run_one
from harness.run.progress import HandsetProgress, ProgressDisplay, ProgressSnapshot


class RemoteProgress(HandsetProgress):
    """The parent's view of a child's progress: the last snapshot it sent."""

    def __init__(self, serial: str, step_count: int, planned: float):
        super().__init__(serial, step_count, planned)
        self.latest: ProgressSnapshot | None = None

    def snapshot(self) -> ProgressSnapshot:
        return self.latest or super().snapshot()


def _child(lab_path: str, profile_path: str, serial: str, out_root: str, channel: Any, doctor: bool) -> None:
    result = run_one(load_lab(lab_path), Path(lab_path), load_profile(profile_path), Path(profile_path),
                     serial, Path(out_root), quiet=True,
                     publish=lambda snap: channel.put(("progress", serial, asdict(snap))), doctor=doctor)
    channel.put(("result", serial, result.as_dict()))


def run_in_children(lab_path: Path, profile: Profile, profile_path: Path, serials: list[str],
                    out_root: Path, quiet: bool, doctor: bool = True) -> list[Any]:
    from harness.run.steps import planned_seconds

    ctx = multiprocessing.get_context("spawn")
    channel = ctx.Queue()
    planned = sum(planned_seconds(s) for s in profile.steps)
    views = {s: RemoteProgress(s, len(profile.steps), planned) for s in serials}
    children = {
        s: ctx.Process(target=_child, args=(str(lab_path), str(profile_path), s, str(out_root), channel, doctor),
                       name=f"lab-run-{s}")
        for s in serials
    }
    results: dict[str, RunResult] = {}
    with interrupt_on_signals(), ProgressDisplay(quiet) as display:
        for serial in serials:
            display.add(views[serial])
        for child in children.values():
            child.start()
        while len(results) < len(serials) and any(c.is_alive() for c in children.values()) or _pending(channel):
            try:
                _drain(channel, views, results)
            except KeyboardInterrupt:
                for child in children.values():
                    if child.is_alive() and child.pid:
                        os.kill(child.pid, signal.SIGINT)
        _drain(channel, views, results, block=False)
        for child in children.values():
            child.join()
    return [
        results.get(s) or RunResult(s, out_root, RunStatus.FAILED, f"child process ended with code {children[s].exitcode}")
        for s in serials
    ]


def _pending(channel: Any) -> bool:
    try:
        return not channel.empty()
    except (OSError, ValueError):
        return False


def _drain(channel: Any, views: dict[str, RemoteProgress], results: dict[str, Any], block: bool = True) -> None:
    while True:
        try:
            kind, serial, payload = channel.get(timeout=0.25) if block else channel.get_nowait()
        except queue.Empty:
            return
        if kind == "progress":
            views[serial].latest = ProgressSnapshot(**payload)
        elif kind == "result":
            payload["run_dir"] = Path(payload["run_dir"])
            results[serial] = RunResult(**payload)
        block = False
