"""Binary native records -> hook events: the decoder and the hot-path formatter agree."""

from __future__ import annotations

import json

from harness.instrument.records import RECORD, RecordBatch, decode, format_lines


def _record(ts_us: int, tid: int, family: int, port: int, addr: bytes) -> bytes:
    return RECORD.pack(ts_us, tid, family, port, addr.ljust(16, b"\0"))


BATCH = RecordBatch(
    "net:connect", "libc.connect",
    _record(1_700_000_000_123_456, 77, 2, 443, bytes([203, 0, 113, 10]))
    + _record(1_700_000_000_200_000, 78, 10, 8443, bytes(15) + b"\1")
    + _record(1_700_000_000_300_000, 77, 10, 80, bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]))
    + b"\x01\x02",  # a torn tail is ignored
    {"77": "OkHttp %d \"pool\"", "78": "main"},
)


def test_decode_gives_ip_port_thread_and_time() -> None:
    events = decode(BATCH)
    assert [(e["ip"], e["port"], e["thread"]) for e in events] == [
        ("203.0.113.10", 443, 'OkHttp %d "pool"'), ("::1", 8443, "main"), ("127.0.0.1", 80, 'OkHttp %d "pool"')]
    assert events[0]["ts"] == 1_700_000_000.123456
    assert events[0]["value"] == "203.0.113.10:443" and events[0]["type"] == "net:connect"


def test_formatted_lines_are_the_decoded_events_with_origin() -> None:
    text = format_lines(BATCH, "virtual:vendor-1.0", "com.odd%spackage", 31337)
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 3
    for line, event in zip(lines, decode(BATCH), strict=True):
        assert (line.pop("device"), line.pop("package"), line.pop("pid")) == (
            "virtual:vendor-1.0", "com.odd%spackage", 31337)
        assert line == event
