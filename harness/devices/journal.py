"""The prepare journal: what was changed on a handset and how to undo it.

Each change is recorded *before* it is made (state `pending`, with the previous value),
then marked `done`. The journal is rewritten atomically after every step, to the run's
capture folder and to the lab state folder (`<state_dir>/journals/<serial>.json`), so a
`kill -9` at any moment leaves a journal that `lab restore` can undo. Undo steps are
idempotent, so a pending entry (change maybe made, maybe not) is undone the same way.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.capture import JOURNAL_JSON, make_private_dir, write_json_atomic
from harness.capture.bounded_json import loads as bounded_loads
from harness.errors import CaptureError

FORMAT = "lab-harness-journal"
FORMAT_VERSION = 1


class EntryState(StrEnum):
    PENDING = "pending"  # about to change; the change may or may not have happened
    DONE = "done"
    RESTORED = "restored"
    FAILED = "failed"  # the undo failed; `error` says why


class JournalStatus(StrEnum):
    PREPARING = "preparing"
    PREPARED = "prepared"
    RESTORING = "restoring"
    RESTORED = "restored"
    INCOMPLETE = "incomplete"  # a restore ran but some undo steps failed


@dataclass
class Entry:
    kind: str
    undo: dict[str, Any]
    state: EntryState = EntryState.PENDING
    ts: float = field(default_factory=time.time)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "undo": self.undo, "state": self.state.value, "ts": self.ts}
        if self.error:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            kind=str(data["kind"]),
            undo=dict(data.get("undo") or {}),
            state=EntryState(data.get("state", "pending")),
            ts=float(data.get("ts", 0.0)),
            error=data.get("error"),
        )


def sanitise_serial(serial: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", serial)[:100] or "_"


def state_journal_path(state_dir: Path, serial: str) -> Path:
    return Path(state_dir) / "journals" / f"{sanitise_serial(serial)}.json"


@dataclass
class Journal:
    serial: str
    paths: list[Path]
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: JournalStatus = JournalStatus.PREPARING
    created: float = field(default_factory=time.time)
    device: dict[str, Any] = field(default_factory=dict)

    # --- writing --------------------------------------------------------------

    @classmethod
    def create(cls, serial: str, state_dir: Path, capture_dir: Path | None = None,
               device: dict[str, Any] | None = None) -> Journal:
        paths = [state_journal_path(state_dir, serial)]
        make_private_dir(paths[0].parent)
        if capture_dir is not None:
            make_private_dir(Path(capture_dir))
            paths.append(Path(capture_dir) / JOURNAL_JSON)
        journal = cls(serial=serial, paths=paths, device=dict(device or {}))
        journal.save()
        return journal

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "serial": self.serial,
            "status": self.status.value,
            "created": self.created,
            "device": self.device,
            "entries": [e.as_dict() for e in self.entries],
            "notes": list(self.notes),
            "copies": [str(p) for p in self.paths],
        }

    def save(self) -> None:
        data = self.as_dict()
        for path in self.paths:
            if path.parent.is_dir():  # a capture folder deleted since is not re-created
                write_json_atomic(path, data)

    def begin(self, kind: str, **undo: Any) -> Entry:
        """Record a change about to be made (and how to undo it) before making it."""
        entry = Entry(kind=kind, undo=undo)
        self.entries.append(entry)
        self.save()
        return entry

    def done(self, entry: Entry, **more: Any) -> None:
        entry.undo.update(more)
        entry.state = EntryState.DONE
        self.save()

    def drop(self, entry: Entry) -> None:
        """Forget a pending entry whose change turned out not to be needed."""
        self.entries.remove(entry)
        self.save()

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.save()

    def set_status(self, status: JournalStatus) -> None:
        self.status = status
        self.save()

    @property
    def pending(self) -> bool:
        return self.status != JournalStatus.RESTORED

    def summary(self) -> str:
        done = [e.kind for e in self.entries if e.state == EntryState.DONE]
        pending = [e.kind for e in self.entries if e.state == EntryState.PENDING]
        parts = [f"done: {', '.join(done) or 'nothing'}"]
        if pending:
            parts.append(f"in progress: {', '.join(pending)}")
        return "; ".join(parts)

    # --- reading --------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            data = bounded_loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CaptureError(f"{path}: not a readable journal: {e}") from e
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CaptureError(f"{path}: not a lab-harness journal")
        if data.get("format_version") != FORMAT_VERSION:
            raise CaptureError(f"{path}: journal format version {data.get('format_version')!r} is not supported")
        try:
            paths = [Path(p) for p in data.get("copies") or []]
            if Path(path) not in paths:
                paths.insert(0, Path(path))
            return cls(
                serial=str(data["serial"]),
                paths=paths,
                entries=[Entry.from_dict(e) for e in data.get("entries") or []],
                notes=[str(n) for n in data.get("notes") or []],
                status=JournalStatus(data.get("status", "preparing")),
                created=float(data.get("created", 0.0)),
                device=dict(data.get("device") or {}),
            )
        except (KeyError, ValueError, TypeError) as e:
            raise CaptureError(f"{path}: garbled journal: {e}") from e


def iter_state_journals(state_dir: Path) -> Iterator[Path]:
    folder = Path(state_dir) / "journals"
    if folder.is_dir():
        yield from sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def pending_journals(state_dir: Path, serial: str | None = None) -> list[Journal]:
    """Journals in the lab state folder that have not been fully restored (SERIAL's only:
    then an unreadable journal of another handset is passed over, its own is an error)."""
    found = []
    own = state_journal_path(state_dir, serial).name if serial is not None else None
    for path in iter_state_journals(state_dir):
        try:
            journal = Journal.load(path)
        except CaptureError:
            if own is None or path.name == own:
                raise
            continue
        if journal.pending and (serial is None or journal.serial == serial):
            found.append(journal)
    return found
