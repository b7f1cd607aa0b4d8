"""HookSink: frida's callbacks -> one writer thread -> hooks.jsonl, with every loss counted."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from harness.capture.folder import HOOK_FIELDS, JsonlWriter, iter_jsonl
from harness.instrument.origin import Origin
from harness.instrument.receiver import HookSink

ORIGIN = Origin("virtual:vendor-1.0", "com.vendor.app", 4242)


def _event(n: int) -> dict[str, Any]:
    return {"type": "hook:event", "ts": 1.0 + n, "api": "android.telephony.TelephonyManager.getImei",
            "category": "imei", "value": "356938035643809", "thread": "main",
            "stack": ["android.telephony.TelephonyManager.getImei(Native Method)", "com.x.Y.z(Y.java:1)"]}


class SlowWriter(JsonlWriter):
    """A JsonlWriter whose disk stalls until released (to fill the queue)."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.release = threading.Event()

    def write_lines(self, text: str, count: int) -> None:
        self.release.wait(10)
        super().write_lines(text, count)


def test_batches_are_enriched_written_and_acknowledged(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "hooks.jsonl")
    sink = HookSink(writer)
    acks: list[int] = []
    sink.submit_batch(ORIGIN, [_event(0), _event(1)], 0, lambda: acks.append(1))
    sink.submit_batch(ORIGIN, [_event(2)], 3, lambda: acks.append(2))
    assert sink.drain(5)
    sink.close()
    writer.close()
    records = list(iter_jsonl(tmp_path / "hooks.jsonl"))
    assert acks == [1, 2]
    assert [r["type"] for r in records] == ["hook:event"] * 3 + ["hook:dropped"]
    for record in records:
        assert set(HOOK_FIELDS) <= set(record)
        assert (record["device"], record["package"], record["pid"]) == (
            "virtual:vendor-1.0", "com.vendor.app", 4242)
    assert records[0]["ts"] == 1.0 and records[0]["stack"][1] == "com.x.Y.z(Y.java:1)"
    assert records[3]["count"] == 3 and records[3]["where"] == "agent"
    stats = sink.stats()
    assert (stats.events, stats.dropped_agent, stats.dropped_host) == (3, 3, 0)


def test_a_full_queue_drops_batches_and_counts_them(tmp_path: Path) -> None:
    writer = SlowWriter(tmp_path / "hooks.jsonl")
    sink = HookSink(writer, max_batches=2)
    acked: list[int] = []
    for n in range(6):
        sink.submit_batch(ORIGIN, [_event(n), _event(n)], 0, lambda n=n: acked.append(n))
    # one batch in the writer's hands, two queued, three dropped (and acknowledged at once)
    assert sink.stats().dropped_host >= 6
    writer.release.set()
    assert sink.drain(5)
    sink.close()
    writer.close()
    records = list(iter_jsonl(tmp_path / "hooks.jsonl"))
    written = [r for r in records if r["type"] == "hook:event"]
    drops = [r for r in records if r["type"] == "hook:dropped"]
    stats = sink.stats()
    assert sorted(acked) == list(range(6))
    assert len(written) + sum(d["count"] for d in drops) == 12
    assert stats.events + stats.dropped_host == 12
    assert all(d["where"] == "host-queue" for d in drops)


def test_unknown_messages_are_logged_and_kept(tmp_path: Path, caplog: Any) -> None:
    writer = JsonlWriter(tmp_path / "hooks.jsonl")
    sink = HookSink(writer)
    sink.submit_unhandled(ORIGIN, {"type": "mystery", "x": 1})
    sink.submit_batch(ORIGIN, ["not an object"], 0, lambda: None)
    sink.close()
    writer.close()
    records = list(iter_jsonl(tmp_path / "hooks.jsonl"))
    assert [r["type"] for r in records] == ["agent:unhandled", "agent:unhandled"]
    assert records[0]["value"] == {"type": "mystery", "x": 1}
    assert records[1]["value"] == "not an object"
    assert "unhandled frida message" in caplog.text
    assert sink.stats().unhandled == 1


def test_control_records_are_never_dropped(tmp_path: Path) -> None:
    writer = SlowWriter(tmp_path / "hooks.jsonl")
    sink = HookSink(writer, max_batches=1)
    sink.submit_batch(ORIGIN, [_event(0)], 0, lambda: None)
    sink.submit_batch(ORIGIN, [_event(1)], 0, lambda: None)
    threading.Timer(0.3, writer.release.set).start()
    sink.submit_record(ORIGIN, {"type": "app:died", "ts": 5.0, "value": "process-terminated"})
    sink.close()
    writer.close()
    types = [r["type"] for r in iter_jsonl(tmp_path / "hooks.jsonl")]
    assert "app:died" in types


def test_rows_resolve_through_their_session_dictionary(tmp_path: Path) -> None:
    from harness.instrument.rows import Dictionary

    writer = JsonlWriter(tmp_path / "hooks.jsonl")
    sink = HookSink(writer)
    dictionary = Dictionary(ORIGIN)
    dictionary.define([["site", 1, ["hook:event", "android.telephony.TelephonyManager.getImei", "imei"]],
                       ["thread", 1, "main"], ["stack", 1, _event(0)["stack"]]])
    sink.submit_batch(ORIGIN, [[1, 1.0, "356938035643809", 1, 1], _event(1)], 2, lambda: None, dictionary)
    assert sink.drain(5)
    sink.close()
    writer.close()
    records = list(iter_jsonl(tmp_path / "hooks.jsonl"))
    assert [r["type"] for r in records] == ["hook:event", "hook:event", "hook:dropped"]
    assert records[0] == {**records[1], "ts": 1.0}  # a row and an object: the same record
    stats = sink.stats()
    assert (stats.events, stats.records, stats.dropped_agent) == (2, 3, 2)


def test_a_java_string_with_a_lone_surrogate_is_recorded(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "hooks.jsonl")
    sink = HookSink(writer)
    odd = {**_event(0), "value": "clip\ud83dboard"}  # half a UTF-16 pair: legal in Java, not in UTF-8
    sink.submit_batch(ORIGIN, [odd, _event(1)], 0, lambda: None)
    assert sink.drain(5)
    sink.close()
    writer.close()
    records = list(iter_jsonl(tmp_path / "hooks.jsonl"))
    assert [r["value"] for r in records] == ["clip\ud83dboard", "356938035643809"]
