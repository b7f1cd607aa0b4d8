"""flows.jsonl and flows.mitm: which flows each holds, and where they disagree.

The flow log writes each flow to flows.jsonl first, then to flows.mitm. flows.jsonl is
the capture's record: reports, diffs and outside tools read it. flows.mitm is the same
flows for mitmproxy's tools. A kill between the two writes leaves the last flow in
flows.jsonl only (and flows.mitm possibly torn); any other difference means one file
was edited or lost records. `compare_flow_files` names the flows in one and not the
other, by id.

flows.mitm is read without decoding its flows: each record is a tnetstring dictionary,
and only its `id` item is read; the other items (bodies among them) are skipped by their
length prefixes, so a large capture is read at the speed of its seeks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from harness.capture.folder import FLOWS_JSONL, FLOWS_MITM
from harness.errors import CaptureError

_MAX_DIGITS = 12  # a tnetstring length prefix: up to a terabyte
SHOWN_IDS = 10


class _Unreadable(Exception):
    def __init__(self, offset: int, torn: bool):
        super().__init__(offset)
        self.offset = offset
        self.torn = torn


@dataclass
class MitmIds:
    ids: list[str] = field(default_factory=list)
    problem: str | None = None  # why reading stopped before the end of the file, if it did


def mitm_flow_ids(path: Path) -> MitmIds:
    """The flow ids in flows.mitm, in file order, and what stopped the reading, if anything."""
    result = MitmIds()
    size = path.stat().st_size
    with path.open("rb") as fh:
        offset = 0
        while offset < size:
            try:
                start, end, kind = _item(fh, offset, size)
                if kind != b"}":
                    raise _Unreadable(offset, torn=False)
                flow_id = _id_of(fh, start, end)
            except _Unreadable as e:
                where = f"byte {e.offset}"
                result.problem = (f"ends inside a record at {where} (a kill mid-write?)" if e.torn
                                  else f"not a mitmproxy flow file from {where} on")
                return result
            if flow_id is None:
                result.problem = f"the record at byte {offset} has no id"
                return result
            result.ids.append(flow_id)
            offset = end + 1
    return result


def _item(fh: BinaryIO, offset: int, limit: int) -> tuple[int, int, bytes]:
    """(payload start, payload end, type byte) of the tnetstring at `offset`, ending by `limit`."""
    fh.seek(offset)
    head = fh.read(_MAX_DIGITS + 1)
    colon = head.find(b":")
    if colon < 1 or not head[:colon].isdigit():
        raise _Unreadable(offset, torn=len(head) < _MAX_DIGITS + 1 and head.isdigit())
    start = offset + colon + 1
    end = start + int(head[:colon])
    if end + 1 > limit:
        raise _Unreadable(offset, torn=True)
    fh.seek(end)
    return start, end, fh.read(1)


def _id_of(fh: BinaryIO, start: int, end: int) -> str | None:
    """The `id` item of the tnetstring dictionary between `start` and `end`."""
    position = start
    while position < end:
        key_start, key_end, _ = _item(fh, position, end)
        value_start, value_end, kind = _item(fh, key_end + 1, end)
        if key_end - key_start == 2:
            fh.seek(key_start)
            if fh.read(2) == b"id" and kind in (b";", b",") and value_end - value_start <= 256:
                fh.seek(value_start)
                return fh.read(value_end - value_start).decode("utf-8", errors="replace")
        position = value_end + 1
    return None


def jsonl_flow_ids(path: Path) -> list[str]:
    """The ids of flows.jsonl's records, in file order (garbled lines have none)."""
    ids = []
    with path.open("rb") as fh:
        for line in fh:
            try:
                record = orjson.loads(line)  # orjson refuses deep nesting itself, no RecursionError
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                ids.append(record["id"])
    return ids


@dataclass
class FlowFiles:
    """How flows.jsonl (the record) and flows.mitm compare, by flow id."""

    only_in_jsonl: list[str] = field(default_factory=list)  # not in flows.mitm
    only_in_mitm: list[str] = field(default_factory=list)  # not in flows.jsonl: reports lack them
    mitm_problem: str | None = None

    @property
    def agree(self) -> bool:
        return not (self.only_in_jsonl or self.only_in_mitm or self.mitm_problem)

    def lines(self) -> list[str]:
        """The differences in words, a line each (empty when the files agree)."""
        out = []
        if self.only_in_jsonl:
            out.append(f"{len(self.only_in_jsonl)} flow(s) in {FLOWS_JSONL} (the record) are not in "
                       f"{FLOWS_MITM}: {_some(self.only_in_jsonl)}")
        if self.only_in_mitm:
            out.append(f"{len(self.only_in_mitm)} flow(s) in {FLOWS_MITM} are not in {FLOWS_JSONL}, "
                       f"so not in reports: {_some(self.only_in_mitm)}")
        if self.mitm_problem:
            out.append(f"{FLOWS_MITM} {self.mitm_problem}")
        return out

    def as_dict(self) -> dict[str, object]:
        return {"agree": self.agree, "only_in_jsonl": self.only_in_jsonl,
                "only_in_mitm": self.only_in_mitm, "mitm_problem": self.mitm_problem}


def _some(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f", ... ({len(ids) - SHOWN_IDS} more)" if len(ids) > SHOWN_IDS else "")


def compare_flow_files(run_dir: Path, jsonl_ids: Iterable[str] | None = None) -> FlowFiles | None:
    """flows.jsonl against flows.mitm; None unless the capture has both (an imported HAR
    has no flows.mitm). `jsonl_ids`: flows.jsonl's ids if the caller has read them."""
    jsonl, mitm = run_dir / FLOWS_JSONL, run_dir / FLOWS_MITM
    if not (jsonl.is_file() and mitm.is_file()):
        return None
    try:
        in_jsonl = list(jsonl_ids) if jsonl_ids is not None else jsonl_flow_ids(jsonl)
    except OSError as e:
        raise CaptureError(f"{jsonl}: cannot read ({e.strerror or e})") from e
    try:
        scan = mitm_flow_ids(mitm)
    except OSError as e:
        scan = MitmIds(problem=f"cannot be read ({e.strerror or e})")
    jsonl_set, mitm_set = set(in_jsonl), set(scan.ids)
    return FlowFiles(
        only_in_jsonl=list(dict.fromkeys(i for i in in_jsonl if i not in mitm_set)),
        only_in_mitm=list(dict.fromkeys(i for i in scan.ids if i not in jsonl_set)),
        mitm_problem=scan.problem,
    )
