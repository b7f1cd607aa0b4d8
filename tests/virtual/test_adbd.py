"""The ADB transport in-process, with a raw client: handshake, refusals, flow control."""

from __future__ import annotations

import asyncio
import struct

import pytest

from harness.virtual.adbd import STREAM_WINDOW, AdbConnection, AdbdServer, Stream
from harness.virtual.protocol import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_VERSION_MIN,
    A_WRTE,
    HEADER,
    MAX_PAYLOAD,
    ProtocolError,
    pack,
    parse_header,
)


class EchoDevice:
    """Services: `echo:` echoes, `big:N` sends N bytes, `hold:` reads nothing until the
    peer closes (its streams are kept in `held`); anything else is refused."""

    def __init__(self) -> None:
        self.closed = 0
        self.held: list[Stream] = []

    def banner(self) -> str:
        return "device::ro.product.name=p;ro.product.model=m;ro.product.device=d;features=shell_v2"

    def resolve(self, service: str, conn: AdbConnection):  # type: ignore[no-untyped-def]
        if service == "echo:":
            async def echo(s: Stream) -> None:
                while data := await s.read():
                    await s.write(data)
            return echo
        if service.startswith("big:"):
            return lambda s: s.write(b"x" * int(service[4:]))
        if service == "hold:":
            async def hold(s: Stream) -> None:
                self.held.append(s)
                while not s.closed:
                    await asyncio.sleep(0.02)
            return hold
        return None

    def connection_closed(self, conn: AdbConnection) -> None:
        self.closed += 1


async def read_msg(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    h = parse_header(await reader.readexactly(24), MAX_PAYLOAD)
    return h.command, h.arg0, h.arg1, await reader.readexactly(h.length)


def test_header_validation() -> None:
    good = pack(A_OKAY, 1, 2)
    assert parse_header(good[:24], MAX_PAYLOAD).command == A_OKAY
    with pytest.raises(ProtocolError):
        parse_header(good[:20] + b"\0\0\0\0", MAX_PAYLOAD)
    with pytest.raises(ProtocolError):
        parse_header(HEADER.pack(A_WRTE, 1, 2, 2**31, 0, A_WRTE ^ 0xFFFFFFFF), MAX_PAYLOAD)
    with pytest.raises(ProtocolError):
        parse_header(HEADER.pack(0x41414141, 0, 0, 0, 0, 0x41414141 ^ 0xFFFFFFFF), MAX_PAYLOAD)


def test_handshake_refusal_and_flow_control() -> None:
    async def scenario() -> None:
        device = EchoDevice()
        server = AdbdServer(device)
        port = await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # an old peer: version and payload are lowered to ours/theirs, checksums are sent
        writer.write(pack(A_CNXN, A_VERSION_MIN, 4096, b"host::\0"))
        cmd, version, maxdata, banner = await read_msg(reader)
        assert (cmd, version, maxdata) == (A_CNXN, A_VERSION_MIN, 4096) and banner.startswith(b"device::")
        writer.write(pack(A_OPEN, 7, 0, b"nope:\0"))
        assert await read_msg(reader) == (A_CLSE, 0, 7, b"")
        writer.write(pack(A_OPEN, 8, 0, b"big:10000\0"))
        cmd, local, remote, _ = await read_msg(reader)
        assert (cmd, remote) == (A_OKAY, 8)
        got = b""
        while len(got) < 10000:
            cmd, a0, a1, data = await read_msg(reader)
            assert cmd == A_WRTE and len(data) <= 4096
            got += data
            if len(got) < 10000:
                with pytest.raises(asyncio.TimeoutError):  # nothing more until we OKAY
                    await asyncio.wait_for(reader.readexactly(1), 0.05)
            writer.write(pack(A_OKAY, 8, local))
        assert got == b"x" * 10000
        assert (await read_msg(reader))[0] == A_CLSE
        writer.close()
        await server.stop()
        assert device.closed == 1

    asyncio.run(scenario())


def test_echo_and_garbage_on_another_connection() -> None:
    async def scenario() -> None:
        server = AdbdServer(EchoDevice())
        port = await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(pack(A_CNXN, A_VERSION, MAX_PAYLOAD, b"host::\0"))
        cmd, version, maxdata, _ = await read_msg(reader)
        assert (version, maxdata) == (A_VERSION, MAX_PAYLOAD)
        writer.write(pack(A_OPEN, 3, 0, b"echo:\0"))
        _, local, _, _ = await read_msg(reader)
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(struct.pack("<6I", A_CNXN, 1, 1, 0, 0, 0))  # bad magic
        assert await r2.read() == b""
        writer.write(pack(A_WRTE, 3, local, b"ping", with_checksum=False))
        assert await read_msg(reader) == (A_OKAY, local, 3, b"")
        assert await read_msg(reader) == (A_WRTE, local, 3, b"ping")
        writer.close()
        await server.stop()

    asyncio.run(scenario())


def test_writes_past_the_flow_control_window_close_the_stream() -> None:
    """Issue 19: WRTE after WRTE without waiting for OKAY was queued without bound (1 GiB
    of it raised the handset's RSS by ~0.9 GB). 32 MB sent at a service that reads
    nothing: the stream is closed, what it holds stays within the window, and the
    connection keeps serving its other streams."""
    async def scenario() -> None:
        device = EchoDevice()
        server = AdbdServer(device)
        port = await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(pack(A_CNXN, A_VERSION, MAX_PAYLOAD, b"host::\0"))
        await read_msg(reader)
        writer.write(pack(A_OPEN, 5, 0, b"hold:\0"))
        cmd, local, _, _ = await read_msg(reader)
        assert cmd == A_OKAY
        chunk = pack(A_WRTE, 5, local, b"f" * MAX_PAYLOAD, with_checksum=False)
        peak = 0

        async def flood() -> None:
            nonlocal peak
            for _ in range(32):
                writer.write(chunk)
                await writer.drain()
                peak = max([peak, *(s.buffered for s in device.held)])

        async def closed_by_the_handset() -> int:
            okays = 0
            while True:
                cmd, arg0, arg1, _ = await read_msg(reader)
                if cmd == A_CLSE and arg1 == 5:
                    return okays
                okays += cmd == A_OKAY

        flooding = asyncio.create_task(flood())
        okays = await asyncio.wait_for(closed_by_the_handset(), 20)
        await asyncio.wait_for(flooding, 20)
        (held,) = device.held
        assert okays == 0 and held.closed and held.buffered == 0
        assert peak <= STREAM_WINDOW * MAX_PAYLOAD
        writer.write(pack(A_OPEN, 6, 0, b"echo:\0"))  # the connection still serves
        while (msg := await read_msg(reader))[0] != A_OKAY or msg[2] != 6:
            pass
        writer.write(pack(A_WRTE, 6, msg[1], b"still here", with_checksum=False))
        while (msg := await read_msg(reader))[0] != A_WRTE:
            pass
        assert msg[3] == b"still here"
        writer.close()
        await server.stop()

    asyncio.run(scenario())
