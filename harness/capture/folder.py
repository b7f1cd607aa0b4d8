"""The capture folder: the contract between a run and everything that reads it.

```
captures/<run-id>/
  run.json       manifest (written last, atomically), with the sha256 of every artifact
  flows.jsonl    one JSON object per completed flow, appended live
  flows.mitm     the same flows in mitmproxy's format
  hooks.jsonl    one JSON object per Frida event
  canaries.json  planted values and device identifiers read at prepare time
  journal.json   what prepare changed on the handset and how to undo it
  report/        written by `lab report`
```

Writers append and flush one record at a time, so a crash loses at most the record in
flight; readers tolerate a torn last line (a SIGKILL mid-write) and count it.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from harness.capture.bounded_json import loads as bounded_loads
from harness.errors import CaptureError

FORMAT = "lab-harness-capture"
FORMAT_VERSION = 1

RUN_JSON = "run.json"
FLOWS_JSONL = "flows.jsonl"
FLOWS_MITM = "flows.mitm"
HOOKS_JSONL = "hooks.jsonl"
CANARIES_JSON = "canaries.json"
JOURNAL_JSON = "journal.json"
ZONE_JSON = "zone.json"  # contained mode: the zone the run used (capture/zone.py)
REPORT_DIR = "report"

# Fields every flow record carries (ARCHITECTURE.md). Add fields freely; never rename these.
FLOW_FIELDS = (
    "id", "ts_start", "ts_end", "device", "client_ip", "host", "sni", "server_ip",
    "server_port", "scheme", "method", "url", "http_version", "status", "request_bytes",
    "response_bytes", "tls", "country", "country_sources", "country_confidence", "org",
    "org_country", "flags", "findings", "app", "attribution",
)

# Fields every hook event carries.
HOOK_FIELDS = ("ts", "device", "package", "pid", "api", "category", "value", "stack")


# orjson like json.dumps(default=str): dataclasses and datetimes go to `default` too
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def json_line(value: Any) -> str:
    """One record as the compact JSON of a JSON-lines file (no newline).

    orjson writes a flow record some five times faster than `json.dumps`; what it
    refuses (a lone surrogate, an integer beyond 64 bits) goes through `json.dumps`."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


def make_private_dir(path: Path) -> Path:
    """Create a folder readable by its owner only: captures hold real device identifiers."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def open_private_append(path: Path) -> BinaryIO:
    """Open a capture file for appending, created owner-only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "ab")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class JsonlWriter:
    """Appends one JSON object per line and flushes each, from any thread."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        # A lone surrogate (a URL path with invalid UTF-8, read by mitmproxy with
        # surrogateescape; a Java string) cannot be UTF-8: written as its JSON escape
        # (\udcff), which reads back as the same string, instead of losing the record.
        self._fh = io.TextIOWrapper(open_private_append(path), encoding="utf-8", errors="backslashreplace")
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        line = json_line(record)
        with self._lock:
            if self._fh.closed:
                return
            self._fh.write(line + "\n")
            self._fh.flush()
            self.count += 1

    def write_many(self, records: list[dict[str, Any]]) -> None:
        self.write_lines(
            "".join(json_line(r) + "\n" for r in records),
            len(records),
        )

    def write_lines(self, text: str, count: int) -> None:
        """Append `count` pre-formatted JSON lines (the hot path formats them itself)."""
        with self._lock:
            if self._fh.closed:
                return
            self._fh.write(text)
            self._fh.flush()
            self.count += count

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class JsonlStats:
    records: int = 0
    garbled_lines: list[int] = field(default_factory=list)


def iter_jsonl(path: Path, stats: JsonlStats | None = None) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSON-lines file; a garbled or torn line is counted, not fatal."""
    if not path.exists():
        return
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = bounded_loads(line)  # a line nested too deep is garbled (a TooDeepError)
            except json.JSONDecodeError:
                if stats is not None:
                    stats.garbled_lines.append(number)
                continue
            if not isinstance(record, dict):
                if stats is not None:
                    stats.garbled_lines.append(number)
                continue
            if stats is not None:
                stats.records += 1
            yield record


def read_json(path: Path) -> Any:
    """A JSON file of the capture (nested at most bounded_json.MAX_DEPTH levels deep)."""
    try:
        return bounded_loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CaptureError(f"{path}: missing") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CaptureError(f"{path}: not valid JSON ({e})") from e
