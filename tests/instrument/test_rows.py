"""Compact rows + definitions -> the same hooks.jsonl records as plain event objects."""

from __future__ import annotations

import json
from typing import Any

from harness.instrument.origin import Origin
from harness.instrument.receiver import HookSink
from harness.instrument.rows import Dictionary, format_events

ORIGIN = Origin("virtual:vendor-1.0", "com.vendor.app", 4242)
API = "android.telephony.TelephonyManager.getImei"
STACK = ["android.telephony.TelephonyManager.getImei(Native Method)", "com.x.Y.z(Y.java:1)"]


def _enrich(event: Any) -> dict[str, Any]:
    return HookSink._enrich(ORIGIN, event)


def _dictionary() -> Dictionary:
    dictionary = Dictionary(ORIGIN)
    assert dictionary.define([
        ["site", 1, ["hook:event", API, "imei"]],
        ["site", 2, ["hook:event", "android.content.ContentResolver.query", "contacts"]],
        ["thread", 1, "main"],
        ["stack", 1, STACK],
    ]) == 0
    return dictionary


def _lines(events: list[Any], dictionary: Dictionary | None) -> list[str]:
    return format_events(events, dictionary, _enrich).splitlines()


def test_a_row_is_the_record_its_event_object_gives() -> None:
    event = {"type": "hook:event", "ts": 1700000000.125, "api": API, "category": "imei",
             "value": "356938035643809", "thread": "main", "stack": STACK}
    [row_line] = _lines([[1, 1700000000.125, "356938035643809", 1, 1]], _dictionary())
    [object_line] = _lines([event], None)
    assert row_line == object_line  # same fields, same order, same JSON
    record = json.loads(row_line)
    assert (record["device"], record["package"], record["pid"]) == (
        "virtual:vendor-1.0", "com.vendor.app", 4242)


def test_extra_fields_and_inline_values() -> None:
    dictionary = _dictionary()
    rows = [
        [2, 5.5, "Ann|+33 6", "pool-1\"x", ["a.B.c(B.java:2)"], {"uri": "content://contacts", "note": "n"}],
        [1, 6, None, None, 1],
    ]
    first, second = (json.loads(line) for line in _lines(rows, dictionary))
    assert first == _enrich({"type": "hook:event", "ts": 5.5, "api": "android.content.ContentResolver.query",
                             "category": "contacts", "value": "Ann|+33 6", "thread": "pool-1\"x",
                             "stack": ["a.B.c(B.java:2)"], "uri": "content://contacts", "note": "n"})
    assert second["ts"] == 6 and second["value"] is None and second["thread"] is None
    assert second["stack"] == STACK


def test_malformed_rows_are_kept_as_unhandled() -> None:
    dictionary = _dictionary()
    rows = [[9, 1.0, "v", 1, 1], [1, 1.0, "v", 7, 1], [1, "soon", "v", 1, 1], [1, 1.0, "v", 1, 1, "x"]]
    records = [json.loads(line) for line in _lines(rows, dictionary)]
    assert [r["type"] for r in records] == ["agent:unhandled"] * 4
    assert [r["value"] for r in records] == rows
    [without] = _lines([[1, 1.0, "v", 1, 1]], None)  # no dictionary: unhandled too
    assert json.loads(without)["type"] == "agent:unhandled"


def test_malformed_definitions_are_counted_and_skipped() -> None:
    dictionary = Dictionary(ORIGIN)
    assert dictionary.define([["site", 1, ["x"]], ["stack", "1", []], ["colour", 1, "red"],
                              ["thread", 2, "ok"]]) == 3
    assert dictionary.define("nope") == 1
    assert dictionary.threads == {2: '"ok"'}
