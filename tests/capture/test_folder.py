"""The capture's JSON-lines writer: records are never lost to what a string holds, and
read back as `json.dumps(default=str)` would have written them."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import pathlib

import pytest

from harness.capture.folder import JsonlStats, JsonlWriter, iter_jsonl, json_line


def test_lone_surrogates_are_written_as_json_escapes(tmp_path) -> None:
    path = tmp_path / "flows.jsonl"
    with JsonlWriter(path) as writer:
        writer.write({"url": "http://h.example/bad\udcffpath", "value": "java \ud800 string"})
        writer.write({"url": "http://h.example/next"})
        writer.write_lines(json.dumps({"v": "\udc80"}, ensure_ascii=False) + "\n", 1)
    stats = JsonlStats()
    records = list(iter_jsonl(path, stats))
    assert [r.get("url") for r in records] == ["http://h.example/bad\udcffpath", "http://h.example/next", None]
    assert records[0]["value"] == "java \ud800 string" and records[2]["v"] == "\udc80"
    assert stats.garbled_lines == [] and writer.count == 3
    path.read_bytes().decode("utf-8")  # the file itself stays valid UTF-8


class Kind(enum.Enum):
    HTTP = "http"


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {"ts": 1700000000.123456, "n": -3, "big": 2**70, "ok": True, "none": None, "list": [1, "ü", ["x"]]},
        {"s": "lone \udcff surrogate"},
        {1: "int key", "nested": {2.5: "float key"}},
        {"when": datetime.datetime(2026, 11, 23, 2, 0, tzinfo=datetime.UTC), "point": Point(3)},
        {"path": pathlib.PurePosixPath("/sdcard/x"), "tuple": (1, 2), "kind": Kind.HTTP.value},
    ],
    ids=["plain", "surrogate", "keys", "default-str", "more"],
)
def test_json_line_reads_back_as_json_dumps_writes_it(value) -> None:
    line = json_line(value)
    assert "\n" not in line
    assert json.loads(line) == json.loads(json.dumps(value, default=str, ensure_ascii=False))
