"""The capture's JSON-lines writer: records are never lost to what a string holds."""

from __future__ import annotations

import json

from harness.capture import JsonlStats, JsonlWriter, iter_jsonl


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
