"""A capture store: a folder of capture folders, at any depth, with an optional
campaign index (`campaign.json`, written by `lab campaign run`).

A folder holding run.json (or, for a run killed before it, flows.jsonl) is a capture;
nothing below a capture is searched, nor any hidden folder, and no link is followed (a
store given as one capture folder is a store of that capture).
The index (harness/capture/store.py writes it) is read for what the analytics need and
tolerated when it is partial: the campaign's id; its runs (key, run id, status, host,
profile, capture path, error), so the campaign report can name runs that left no
capture; and the captures of attempts a retry superseded, which the figures leave out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture import FLOWS_JSONL, REPORT_DIR, RUN_JSON, read_json
from harness.capture.store import CAMPAIGN_JSON
from harness.errors import CaptureError

INDEX_FIELDS = ("key", "run_id", "status", "host", "profile", "capture", "error")


@dataclass
class CampaignIndex:
    """What a store's campaign.json says, as far as it could be read."""

    campaign_id: str | None = None
    runs: list[dict[str, str | None]] = field(default_factory=list)  # INDEX_FIELDS each
    superseded: set[str] = field(default_factory=set)  # captures of attempts a retry replaced
    warnings: list[str] = field(default_factory=list)


@dataclass
class ScannedStore:
    root: Path
    captures: list[Path]  # capture folders, sorted
    index: CampaignIndex

    def relative(self, capture: Path) -> str:
        return capture.relative_to(self.root).as_posix()


def scan_store(root: Path | str) -> ScannedStore:
    """The store at `root`: its capture folders and its campaign index."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise CaptureError(f"{root}: not a capture store (no such folder)")
    captures: list[Path] = []
    _walk(root, captures, top=True)
    return ScannedStore(root, sorted(captures), read_index(root / CAMPAIGN_JSON))


def _walk(folder: Path, captures: list[Path], top: bool = False) -> None:
    try:
        with os.scandir(folder) as entries:
            found = {e.name: e.stat(follow_symlinks=False).st_mode for e in entries}
    except OSError as e:
        if top:
            raise CaptureError(f"{folder}: cannot list the store ({e.strerror or e})") from e
        return  # a folder this user may not read holds no capture it can report
    if any(stat.S_ISREG(found.get(n, 0)) for n in (RUN_JSON, FLOWS_JSONL)):
        captures.append(folder)  # the store's root may be one capture
        return
    for name, mode in sorted(found.items()):
        if stat.S_ISDIR(mode) and not name.startswith(".") and name != REPORT_DIR:
            _walk(folder / name, captures)


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def read_index(path: Path) -> CampaignIndex:
    """campaign.json, tolerantly: absent is an empty index; unreadable is a warning."""
    index = CampaignIndex()
    if not path.is_file():
        return index
    try:
        data = read_json(path)
    except CaptureError as e:
        index.warnings.append(f"{e}; ignored")
        return index
    if not isinstance(data, dict):
        index.warnings.append(f"{path}: not a JSON object; ignored")
        return index
    campaign = data.get("campaign") if isinstance(data.get("campaign"), dict) else data
    index.campaign_id = _text(campaign.get("id") or campaign.get("campaign_id") or campaign.get("name"))
    runs = data.get("runs")
    items = list(runs.values()) if isinstance(runs, dict) else runs if isinstance(runs, list) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        capture = item.get("capture") or item.get("path") or item.get("capture_path")
        superseded = item.get("superseded")
        if isinstance(superseded, list):
            index.superseded.update(s for s in superseded if isinstance(s, str))
        index.runs.append({
            "key": _text(item.get("key")),
            "run_id": _text(item.get("run_id") or item.get("id")),
            "status": _text(item.get("status")),
            "host": _text(item.get("host") or item.get("worker")),
            "profile": _text(item.get("profile")),
            "capture": _text(capture),
            "error": _text(item.get("error") or item.get("reason")),
        })
    return index
