"""The `sync:` service, protocol v1 (adb's file_sync_protocol.h): STAT, LIST, SEND,
RECV (DATA/DONE), QUIT. Requests and DATA chunks may span WRTE packets. The file system
is read and written in a worker thread that holds the state lock: adbd's event loop
never waits for that lock."""

from __future__ import annotations

import asyncio
import posixpath
import stat
import struct
from collections.abc import Callable

from harness.virtual.adbd import Stream, StreamClosed
from harness.virtual.fs import Dir, File, FsError, Link, Node
from harness.virtual.state import HandsetState

SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024
REPLY_BATCH = 256 * 1024


def _fail(message: str) -> bytes:
    data = message.encode()
    return b"FAIL" + struct.pack("<I", len(data)) + data


def _stat_tuple(node: Node | None) -> tuple[int, int, int]:
    if node is None:
        return 0, 0, 0
    return node.mode, node.size & 0xFFFFFFFF, node.mtime & 0xFFFFFFFF


async def serve_sync(stream: Stream, state: HandsetState,
                     write_problem: Callable[[str], str | None],
                     read_problem: Callable[[str], str | None] = lambda path: None) -> None:
    while True:
        try:
            header = await stream.readexactly(8)
        except StreamClosed:
            return
        cmd, length = header[:4], struct.unpack("<I", header[4:])[0]
        if cmd == b"QUIT":
            return
        if cmd not in (b"STAT", b"LIST", b"SEND", b"RECV") or length > MAX_PATH:
            await stream.write(_fail(f"unknown command {cmd!r}" if length <= MAX_PATH else "path too long"))
            return
        path = (await stream.readexactly(length)).decode("utf-8", "surrogateescape")
        denied = read_problem(path)
        if cmd == b"STAT":
            node = None if denied else await asyncio.to_thread(_lookup, state, path)
            await stream.write(b"STAT" + struct.pack("<3I", *_stat_tuple(node)))
        elif cmd == b"LIST":
            await stream.write(await asyncio.to_thread(_list, state, path) if not denied
                               else b"DONE" + b"\0" * 16)
        elif cmd == b"RECV":
            if denied:
                await stream.write(_fail(denied))
            else:
                await _recv(stream, state, path)
        else:
            await _send(stream, state, path, write_problem)


def _lookup(state: HandsetState, path: str) -> Node | None:
    with state.lock:
        return state.files.lookup(path, follow=False)


def _list(state: HandsetState, path: str) -> bytes:
    out = bytearray()
    with state.lock:
        node = state.files.lookup(path)
        entries: list[tuple[str, Node]] = []
        if isinstance(node, Dir):
            entries = [(".", node), ("..", node)] + state.files.listdir(path)
    for name, child in entries:
        raw = name.encode("utf-8", "surrogateescape")
        out += b"DENT" + struct.pack("<4I", *_stat_tuple(child), len(raw)) + raw
    out += b"DONE" + b"\0" * 16
    return bytes(out)


def _read(state: HandsetState, path: str) -> bytes | str:
    """The file's bytes, or why it cannot be read."""
    with state.lock:
        try:
            return state.files.read(path)
        except FsError as e:
            return e.text


async def _recv(stream: Stream, state: HandsetState, path: str) -> None:
    data = await asyncio.to_thread(_read, state, path)
    if isinstance(data, str):
        await stream.write(_fail(data))
        return
    batch = bytearray()
    for off in range(0, len(data), SYNC_DATA_MAX):
        chunk = data[off:off + SYNC_DATA_MAX]
        batch += b"DATA" + struct.pack("<I", len(chunk)) + chunk
        if len(batch) >= REPLY_BATCH:
            await stream.write(bytes(batch))
            batch.clear()
    batch += b"DONE" + struct.pack("<I", 0)
    await stream.write(bytes(batch))


async def _send(stream: Stream, state: HandsetState, spec: str,
                write_problem: Callable[[str], str | None]) -> None:
    path, _, mode_text = spec.rpartition(",")
    if not path:
        path, mode_text = spec, "33188"
    try:
        mode = int(mode_text)
    except ValueError:
        mode = 0o100644
    chunks: list[bytes] = []
    mtime = 0
    while True:
        header = await stream.readexactly(8)
        cmd, value = header[:4], struct.unpack("<I", header[4:])[0]
        if cmd == b"DATA":
            if value > SYNC_DATA_MAX:
                await stream.write(_fail("data chunk too large"))
                raise StreamClosed("oversized DATA")
            chunks.append(await stream.readexactly(value))
        elif cmd == b"DONE":
            mtime = value
            break
        else:
            await stream.write(_fail(f"invalid data message {cmd!r}"))
            raise StreamClosed("bad SEND")
    problem = await asyncio.to_thread(_write, state, path, b"".join(chunks), mode, mtime, write_problem)
    if problem:
        await stream.write(_fail(f"couldn't create file: {problem}"))
    else:
        await stream.write(b"OKAY" + b"\0\0\0\0")


def _write(state: HandsetState, path: str, data: bytes, mode: int, mtime: int,
           write_problem: Callable[[str], str | None]) -> str | None:
    """Store a pushed file (or symlink); why not, or None."""
    with state.lock:
        problem = write_problem(path)
        if problem is not None:
            return problem
        try:
            parent = posixpath.dirname(path) or "/"
            state.files.mkdir(parent, 0o771, parents=True, uid=2000, gid=2000)
            if stat.S_ISLNK(mode):
                state.files.symlink(data.decode("utf-8", "replace"), path)
            else:
                existing = state.files.lookup(path)
                if isinstance(existing, (Dir, Link)) and not isinstance(existing, File):
                    raise FsError("EISDIR", path)
                state.files.write(path, data, mode & 0o7777, 2000, 2000, mtime=mtime or None)
        except FsError as e:
            return e.text
        return None
