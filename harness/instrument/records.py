"""Binary record batches from the agents' native fast paths (agents/network_fast.c).

A record is 32 bytes in the target's byte order (little-endian on every Android ABI and
on x86-64): ts_us i64, tid u32, family u16, port u16, addr 16 bytes (IPv4 in the first 4).
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

RECORD = struct.Struct("<qIHH16s")
AF_INET = 2
AF_INET6 = 10
_MAPPED = b"\x00" * 10 + b"\xff\xff"


@dataclass(frozen=True)
class RecordBatch:
    """One "records" message: its kind and API, the bytes, and thread names by tid."""

    kind: str
    api: str
    data: bytes
    threads: dict[str, str]

    def __len__(self) -> int:
        return len(self.data) // RECORD.size


def _ip(family: int, addr: bytes) -> str:
    if family == AF_INET:
        return socket.inet_ntop(socket.AF_INET, addr[:4])
    if addr[:12] == _MAPPED:
        return socket.inet_ntop(socket.AF_INET, addr[12:16])
    return socket.inet_ntop(socket.AF_INET6, addr)


def decode(batch: RecordBatch) -> list[dict[str, Any]]:
    """Records -> hook events (net:connect), in order; a short tail is ignored."""
    usable = len(batch) * RECORD.size
    threads = batch.threads
    events = []
    for ts_us, tid, family, port, addr in RECORD.iter_unpack(batch.data[:usable]):
        ip = _ip(family, addr)
        events.append({
            "ts": ts_us / 1e6, "api": batch.api, "category": "network", "value": f"{ip}:{port}",
            "stack": [], "type": batch.kind, "thread": threads.get(str(tid)), "host": None,
            "ip": ip, "port": port,
        })
    return events


def _literal(value: object) -> str:
    """A JSON literal safe inside a %-format string."""
    return json.dumps(value, ensure_ascii=False).replace("%", "%%")


def format_lines(batch: RecordBatch, device: str, package: str, pid: int) -> str:
    """The same records as decode() gives, formatted straight to JSON lines (the hot path)."""
    usable = len(batch) * RECORD.size
    line = (
        '{"ts":%.6f,"device":' + _literal(device) + ',"package":' + _literal(package)
        + ',"pid":' + str(int(pid)) + ',"api":' + _literal(batch.api)
        + ',"category":"network","value":"%s:%d","stack":[],"type":' + _literal(batch.kind)
        + ',"thread":%s,"host":null,"ip":"%s","port":%d}\n'
    )
    names = {int(k): json.dumps(v, ensure_ascii=False) for k, v in batch.threads.items()
             if str(k).isdigit()}
    out = []
    ips: dict[tuple[int, bytes], str] = {}
    for ts_us, tid, family, port, addr in RECORD.iter_unpack(batch.data[:usable]):
        ip = ips.get((family, addr))
        if ip is None:
            ip = ips[(family, addr)] = _ip(family, addr)
        out.append(line % (ts_us / 1e6, ip, port, names.get(tid, "null"), ip, port))
    return "".join(out)
