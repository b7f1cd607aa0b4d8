"""The capture store of a campaign: one folder (shared across hosts, e.g. a network mount)
holding every capture of the campaign and its index, `campaign.json`.

    STORE/
      campaign.json               the index: campaign, handsets, hosts, runs, baseline verdicts
      captures/<run key>/<run id>/  one folder per (profile, handset, repetition); each attempt
                                  a capture folder of its own, verifiable alone (`lab verify`)

Only the campaign's client writes the index (never the workers): under an exclusive lock
on `STORE/.campaign.lock` held for the whole campaign run, each update re-reads the file,
merges the runs by key (the newer record wins) and replaces it atomically. A run counts as
done when the index says `ok`, its capture is there, run.json still has the sha256 the
index recorded and the capture verifies.
"""

from __future__ import annotations

import fcntl
import os
import platform
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.capture.folder import RUN_JSON, make_private_dir, read_json, write_json_atomic
from harness.capture.integrity import verify
from harness.capture.manifest import sha256_file
from harness.errors import CaptureError
from harness.names import file_name

CAMPAIGN_JSON = "campaign.json"
CAPTURES_DIR = "captures"
LOCK_FILE = ".campaign.lock"
INDEX_FORMAT = "lab-harness-campaign"
INDEX_VERSION = 1
DONE = "ok"


def run_key(profile: str, handset: str, repetition: int) -> str:
    """The campaign's name for one run: `PROFILE/HANDSET/REPETITION`."""
    return f"{profile}/{handset}/{repetition}"


@dataclass
class RunRecord:
    """One run of the campaign, as the index keeps it (every field a JSON value)."""

    key: str
    profile: str
    handset: str
    repetition: int
    status: str = "pending"  # pending | running | ok | partial | failed | interrupted
    error: str | None = None
    host: str | None = None  # the worker's name (`lab worker --name`), else its host name
    worker: str | None = None  # the Dask worker's address
    run_id: str | None = None  # the capture's run id (its folder's name)
    capture: str | None = None  # the capture folder, relative to the store
    manifest_sha256: str | None = None  # sha256 of the capture's run.json
    started: float | None = None
    ended: float | None = None
    attempts: int = 0
    superseded: list[str] = field(default_factory=list)  # captures of earlier attempts
    updated: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class CampaignIndex:
    campaign: dict[str, Any]
    runs: dict[str, RunRecord] = field(default_factory=dict)
    handsets: dict[str, dict[str, Any]] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    baselines: list[dict[str, Any]] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT, "format_version": INDEX_VERSION,
            "campaign": self.campaign, "created": self.created, "updated": self.updated,
            "handsets": self.handsets, "hosts": self.hosts,
            "runs": [self.runs[k].as_dict() for k in sorted(self.runs)],
            "baselines": self.baselines,
        }

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> CampaignIndex:
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
            raise CaptureError(f"{path}: not a lab-harness campaign index")
        if data.get("format_version") != INDEX_VERSION:
            raise CaptureError(f"{path}: campaign index version {data.get('format_version')!r} is not supported")
        try:
            runs = {r["key"]: RunRecord.from_dict(r) for r in data.get("runs") or []}
            return cls(campaign=dict(data["campaign"]), runs=runs,
                       handsets=dict(data.get("handsets") or {}), hosts=dict(data.get("hosts") or {}),
                       baselines=list(data.get("baselines") or []),
                       created=float(data.get("created") or 0), updated=float(data.get("updated") or 0))
        except (KeyError, TypeError, ValueError) as e:
            raise CaptureError(f"{path}: garbled campaign index: {type(e).__name__}: {e}") from e


class Store:
    """A campaign's capture store; `open_store` makes or opens one."""

    def __init__(self, root: Path, campaign: dict[str, Any]):
        self.root = root
        self.campaign = campaign
        self.index_path = root / CAMPAIGN_JSON
        self._write_lock = threading.Lock()

    def run_folder(self, key: str) -> Path:
        """Where the captures of one run go (each attempt a capture folder inside)."""
        return self.root / CAPTURES_DIR / "--".join(file_name(part, "_") for part in key.split("/"))

    def relative(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()

    def read(self) -> CampaignIndex:
        if not self.index_path.exists():
            return CampaignIndex(campaign=dict(self.campaign))
        return CampaignIndex.from_dict(read_json(self.index_path), self.index_path)

    def update(self, runs: Iterable[RunRecord] = (), **parts: Any) -> CampaignIndex:
        """Merge `runs` (the newer record of a key wins) and any of handsets/hosts (merged
        by name) or baselines (replaced) into the index on disk; written atomically."""
        with self._write_lock:
            index = self.read()
            for record in runs:
                old = index.runs.get(record.key)
                if old is None or record.updated >= old.updated:
                    index.runs[record.key] = record
            for name in ("handsets", "hosts"):
                for item, value in (parts.get(name) or {}).items():
                    getattr(index, name).setdefault(item, {}).update(value)
            if "baselines" in parts:
                index.baselines = list(parts["baselines"])
            index.campaign.update(self.campaign)
            index.updated = time.time()
            write_json_atomic(self.index_path, index.as_dict())
            return index

    def done(self, record: RunRecord | None, public_key: Path | bytes | None = None) -> bool:
        """The run completed and its capture is as it was: status ok, run.json's sha256 as
        recorded, and the capture verifies (`lab verify`)."""
        if record is None or record.status != DONE or not record.capture or not record.manifest_sha256:
            return False
        capture = self.root / record.capture
        manifest = capture / RUN_JSON
        if not manifest.is_file() or sha256_file(manifest) != record.manifest_sha256:
            return False
        try:
            return verify(capture, public_key).ok
        except CaptureError:
            return False

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store for one campaign run; a second one is refused, naming the holder."""
        path = self.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
                raise CaptureError(f"{self.root}: a campaign run is already writing this store ({holder})") from e
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {platform.node()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock


def open_store(root: Path, campaign: dict[str, Any]) -> Store:
    """Make or open the store of `campaign` ({"id": NAME, ...}); a store of another
    campaign is refused (one store, one campaign)."""
    root = Path(root).absolute()
    try:
        make_private_dir(root)
        make_private_dir(root / CAPTURES_DIR)
    except OSError as e:
        raise CaptureError(f"{root}: cannot make the store: {e.strerror or e}") from e
    store = Store(root, campaign)
    index = store.read()
    theirs = index.campaign.get("id")
    if theirs != campaign["id"]:
        raise CaptureError(f"{root}: this store holds campaign {theirs!r}, not {campaign['id']!r}; "
                           "give each campaign a store of its own (--store DIR)")
    return store
