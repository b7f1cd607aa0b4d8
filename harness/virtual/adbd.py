"""The device side of the ADB transport over TCP: one AdbConnection per socket.

Streams follow the real flow control (no delayed_ack): after each WRTE we send, we wait
for the peer's OKAY; each WRTE we receive is acknowledged with OKAY once the service has
taken it, which gives back-pressure. A peer that writes on without waiting for that OKAY
has its stream closed once STREAM_WINDOW packets wait unread: what a stream holds stays
bounded whatever the peer sends. A protocol error (bad magic, unknown command, a
payload over the negotiated maximum, a socket closed mid-message) closes that connection
only; every other connection of the handset keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from harness.virtual.protocol import (
    A_AUTH,
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_STLS,
    A_VERSION,
    A_VERSION_MIN,
    A_VERSION_SKIP_CHECKSUM,
    A_WRTE,
    HEADER,
    MAX_PAYLOAD,
    ProtocolError,
    checksum,
    pack,
    parse_header,
)

log = logging.getLogger(__name__)

ServiceFn = Callable[["Stream"], Awaitable[None]]

AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3  # AUTH arg0

# Unread WRTE packets a stream holds at most. A peer that waits for OKAY (no delayed_ack,
# as every adb server here negotiates) never has more than one outstanding.
STREAM_WINDOW = 4


class StreamClosed(Exception):
    """The peer closed the stream (or the connection went away)."""


class Device(Protocol):
    """What a connection needs from the handset."""

    def banner(self) -> str: ...

    def resolve(self, service: str, conn: AdbConnection) -> ServiceFn | None:
        """The coroutine serving `service`, or None to refuse the OPEN."""

    def connection_closed(self, conn: AdbConnection) -> None: ...

    def authorized(self) -> bool:
        """False: answer CNXN with AUTH and never accept a key (the user never taps Allow)."""


class Stream:
    """One ADB stream: bytes in (acknowledged as consumed) and bytes out (flow-controlled)."""

    def __init__(self, conn: AdbConnection, local_id: int, remote_id: int) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self._inbox: deque[bytes] = deque()
        self._buffer = bytearray()
        self._data = asyncio.Event()
        self._ready = asyncio.Event()
        self._opened = asyncio.Event()
        self.closed = False
        self._sent_close = False
        if remote_id:
            self._ready.set()
            self._opened.set()

    @property
    def buffered(self) -> int:
        """Bytes received from the peer and not yet read by the service."""
        return sum(map(len, self._inbox)) + len(self._buffer)

    # --- called by the connection's read loop ---------------------------------------
    def _on_write(self, data: bytes) -> bool:
        """Queue a WRTE for the service; False (nothing queued) if the peer has written
        past the window, i.e. without waiting for our OKAYs."""
        if len(self._inbox) >= STREAM_WINDOW:
            return False
        self._inbox.append(data)
        self._data.set()
        return True

    def _overrun(self) -> None:
        """Drop what the peer sent; the service sees the stream closed."""
        self._inbox.clear()
        self._buffer.clear()

    def _on_okay(self, remote_id: int) -> None:
        if not self.remote_id:
            self.remote_id = remote_id
            self._opened.set()
        self._ready.set()

    def _on_close(self) -> None:
        self.closed = True
        self._sent_close = True
        self._data.set()
        self._ready.set()
        self._opened.set()

    # --- used by services ------------------------------------------------------------
    async def read(self) -> bytes:
        """The next chunk from the peer; b"" once the peer closed."""
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        return await self._read_chunk()

    async def readexactly(self, n: int) -> bytes:
        """Exactly n bytes, across WRTE boundaries; StreamClosed if the peer closes first."""
        while len(self._buffer) < n:
            if not self._inbox and self.closed:
                raise StreamClosed(f"stream closed with {len(self._buffer)}/{n} bytes")
            chunk = await self._read_chunk()
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def _read_chunk(self) -> bytes:
        while not self._inbox:
            if self.closed:
                return b""
            self._data.clear()
            await self._data.wait()
        data = self._inbox.popleft()
        if not self.closed:
            await self.conn.send(A_OKAY, self.local_id, self.remote_id)
        return data

    async def write(self, data: bytes) -> None:
        """Send data in WRTE packets of at most the negotiated payload, one at a time."""
        view = memoryview(data)
        step = self.conn.max_payload
        for start in range(0, len(view), step):
            await self._ready.wait()
            if self.closed:
                raise StreamClosed("peer closed the stream")
            self._ready.clear()
            await self.conn.send(A_WRTE, self.local_id, self.remote_id, bytes(view[start:start + step]))
        if not data and self.closed:
            raise StreamClosed("peer closed the stream")

    async def close(self) -> None:
        if self._sent_close:
            return
        self._sent_close = True
        self.closed = True
        self._data.set()
        self._ready.set()
        self.conn.forget(self)
        if self.remote_id:
            await self.conn.send(A_CLSE, self.local_id, self.remote_id)


class AdbConnection:
    """One TCP connection from an adb server (one transport)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 device: Device) -> None:
        self.reader = reader
        self.writer = writer
        self.device = device
        self.version = A_VERSION_MIN
        self.max_payload = 4096
        self.online = False
        self.awaiting_auth = False  # AUTH TOKEN sent, no key accepted (yet)
        self.peer = writer.get_extra_info("peername")
        self._streams: dict[int, Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 1
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._finished = False

    # --- output ----------------------------------------------------------------------
    async def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        if self._closed:
            raise StreamClosed("connection closed")
        frame = pack(command, arg0, arg1, data, self.version < A_VERSION_SKIP_CHECKSUM)
        async with self._send_lock:
            try:
                self.writer.write(frame)
                await self.writer.drain()
            except (ConnectionError, RuntimeError) as e:
                self._closed = True
                raise StreamClosed(str(e)) from e

    def forget(self, stream: Stream) -> None:
        self._streams.pop(stream.local_id, None)

    def _new_id(self) -> int:
        local_id = self._next_id
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        return local_id

    async def open_to_host(self, destination: str, timeout: float = 10.0) -> Stream | None:
        """Device-initiated OPEN (how adbd tunnels `adb reverse`); None if refused."""
        if not self.online or self._closed:
            return None
        stream = Stream(self, self._new_id(), 0)
        self._streams[stream.local_id] = stream
        await self.send(A_OPEN, stream.local_id, 0, destination.encode() + b"\0")
        try:
            await asyncio.wait_for(stream._opened.wait(), timeout)
        except TimeoutError:
            await stream.close()
            return None
        if stream.closed or not stream.remote_id:
            self.forget(stream)
            return None
        return stream

    # --- input -----------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._loop()
        except ProtocolError as e:
            log.info("closing connection from %s: %s", self.peer, e)
        except (asyncio.IncompleteReadError, ConnectionError, StreamClosed) as e:
            log.info("connection from %s ended: %s", self.peer, type(e).__name__)
        finally:
            await self.close()

    async def _loop(self) -> None:
        while True:
            raw = await self.reader.readexactly(HEADER.size)
            header = parse_header(raw, MAX_PAYLOAD)
            data = await self.reader.readexactly(header.length) if header.length else b""
            # Like adbd >= 0x01000001: CNXN checksums are not verified (an adb server that
            # reconnects sends 0); later messages only while talking to an old peer.
            if (self.online and self.version < A_VERSION_SKIP_CHECKSUM
                    and header.command != A_CNXN and header.check != checksum(data)):
                raise ProtocolError(f"bad checksum on {header.name}")
            if header.command == A_CNXN:
                await self._on_cnxn(header.arg0, header.arg1, data)
            elif header.command == A_AUTH and self.awaiting_auth:
                await self._on_auth(header.arg0)
            elif not self.online:
                raise ProtocolError(f"{header.name} before CNXN")
            elif header.command == A_OPEN:
                await self._on_open(header.arg0, data)
            elif header.command == A_OKAY:
                stream = self._streams.get(header.arg1)
                if stream is not None:
                    stream._on_okay(header.arg0)
            elif header.command == A_WRTE:
                stream = self._streams.get(header.arg1)
                if stream is None:
                    await self.send(A_CLSE, 0, header.arg0)
                elif not stream._on_write(data):
                    log.warning("closing stream %d from %s: it wrote past the flow-control "
                                "window (WRTE without waiting for OKAY)", header.arg0, self.peer)
                    stream._overrun()
                    await stream.close()
            elif header.command == A_CLSE:
                stream = self._streams.pop(header.arg1, None)
                if stream is not None:
                    stream._on_close()
            elif header.command in (A_AUTH, A_STLS):
                raise ProtocolError(f"unexpected {header.name} from the host")

    async def _on_cnxn(self, version: int, max_payload: int, data: bytes) -> None:
        if version < A_VERSION_MIN or max_payload < 256:
            raise ProtocolError(f"unusable CNXN version=0x{version:08x} maxdata={max_payload}")
        if self.online:
            self._drop_streams()
        if not getattr(self.device, "authorized", lambda: True)():  # ro.adb.secure=1, key not allowed
            self.awaiting_auth = True
            await self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
            return
        reply_version = min(version, A_VERSION)
        self.max_payload = min(max_payload, MAX_PAYLOAD)
        frame = pack(A_CNXN, reply_version, self.max_payload, self.device.banner().encode())
        self.version = reply_version
        self.online = True
        async with self._send_lock:
            self.writer.write(frame)
            await self.writer.drain()

    async def _on_auth(self, kind: int) -> None:
        """A signature over our token is never one of the keys we accept: ask again; the
        public key that comes last would raise the "Allow USB debugging?" dialog, which
        nobody answers. The adb server shows the handset as `unauthorized`."""
        if kind == AUTH_SIGNATURE:
            await self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
        elif kind == AUTH_RSAPUBLICKEY:
            log.info("host %s offers its public key: waiting for the user to allow it", self.peer)

    async def _on_open(self, remote_id: int, data: bytes) -> None:
        service = data.split(b"\0", 1)[0].decode("utf-8", "replace")
        if not remote_id:
            raise ProtocolError("OPEN with local-id 0")
        fn = self.device.resolve(service, self)
        if fn is None:
            log.info("refusing service %r", service)
            await self.send(A_CLSE, 0, remote_id)
            return
        stream = Stream(self, self._new_id(), remote_id)
        self._streams[stream.local_id] = stream
        await self.send(A_OKAY, stream.local_id, remote_id)
        task = asyncio.create_task(self._serve(fn, stream, service))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, fn: ServiceFn, stream: Stream, service: str) -> None:
        try:
            await fn(stream)
        except StreamClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # a service bug must not take the handset down
            log.exception("service %r failed", service)
        try:
            await stream.close()
        except StreamClosed:
            pass

    def _drop_streams(self) -> None:
        for stream in list(self._streams.values()):
            stream._on_close()
        self._streams.clear()

    async def close(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._closed = True
        self.online = False
        self._drop_streams()
        for task in list(self._tasks):
            task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        self.device.connection_closed(self)


class AdbdServer:
    """Listens on 127.0.0.1:port and runs one AdbConnection per accepted socket."""

    def __init__(self, device: Device, host: str = "127.0.0.1", port: int = 0) -> None:
        self.device = device
        self.host = host
        self.port = port
        self.connections: set[AdbConnection] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if getattr(self.device, "rebooting", False):  # offline while rebooting, like a phone
            writer.close()
            return
        conn = AdbConnection(reader, writer, self.device)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)

    async def drop_all(self) -> None:
        """Close every transport (reboot): the adb server sees the device go offline."""
        for conn in list(self.connections):
            await conn.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self.drop_all()
            await self._server.wait_closed()
