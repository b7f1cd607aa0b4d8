"""The services a handset answers on an ADB stream: shell (v1 and v2), exec (with the
streaming `cmd package install -S`), sync, reverse, tcp forwards, reboot, root."""

from __future__ import annotations

import asyncio
import logging
import shlex
import struct
from collections.abc import Callable

from harness.virtual import terminal
from harness.virtual.adbd import AdbConnection, ServiceFn, Stream, StreamClosed
from harness.virtual.host import HandsetHost
from harness.virtual.shell import IO, Shell
from harness.virtual.shell.pm import install_apk
from harness.virtual.sync import serve_sync
from harness.virtual.terminal import (
    ID_CLOSE_STDIN,
    ID_EXIT,
    ID_STDERR,
    ID_STDIN,
    ID_STDOUT,
    v2_packet,
)

log = logging.getLogger(__name__)

MAX_INSTALL = 512 * 1024 * 1024
MAX_STDIN = 256 * 1024 * 1024
STDIN_TIMEOUT = 600.0


def resolve(handset: HandsetHost, service: str, conn: AdbConnection) -> ServiceFn | None:
    if service.startswith("shell"):
        head, _, command = service.partition(":")
        opts = head.split(",")[1:]
        if head.split(",")[0] != "shell":
            return None
        v2, pty = "v2" in opts, "pty" in opts or ("raw" not in opts and not command.strip())
        if not command.strip():
            return lambda s: terminal.interactive(handset, s, v2, pty)
        follow = terminal.streaming_logcat(command)
        if follow is not None:
            return lambda s: terminal.follow_logcat(handset, s, follow, v2)
        if v2:
            return lambda s: shell_v2(handset, s, command)
        return lambda s: shell_v1(handset, s, command)
    if service.startswith("exec:"):
        return lambda s: exec_(handset, s, service[5:])
    if service == "sync:":
        shell = Shell(handset)
        return lambda s: serve_sync(s, handset.state, shell.write_problem, shell.read_problem)
    if service.startswith("reverse:"):
        return lambda s: reverse(handset, s, conn, service[8:])
    if service.startswith("tcp:"):
        port = service.rsplit(":", 1)[-1]
        if not port.isdigit():
            return None
        return lambda s: tcp_forward(handset, s, int(port))
    if service.startswith("reboot:"):
        return lambda s: reboot(handset, s)
    if service in ("root:", "unroot:"):
        return lambda s: root(handset, s, service == "root:")
    if service == "remount:":
        return lambda s: s.write(b"Not running as root. Try \"adb root\" first.\n")
    return None


async def run_shell(handset: HandsetHost, command: str, stdin: bytes | Callable[[], bytes] = b"",
                    merged: bool = False) -> tuple[bytes, bytes, int]:
    shell = Shell(handset)
    if merged:
        buf = bytearray()
        io = IO(stdin, buf, buf)
        code = await asyncio.to_thread(shell.run_in, command, io)
        return bytes(buf), b"", code
    return await asyncio.to_thread(shell.run_script, command, stdin)


async def _read_v2_stdin(stream: Stream) -> bytes:
    data = bytearray()
    while True:
        try:
            kind, length = struct.unpack("<BI", await stream.readexactly(5))
            chunk = await stream.readexactly(length) if length else b""
        except StreamClosed:
            break
        if kind == ID_CLOSE_STDIN:
            break
        if kind == ID_STDIN:
            data += chunk
            if len(data) > MAX_STDIN:
                break
    return bytes(data[:MAX_STDIN])


async def _read_raw_stdin(stream: Stream) -> bytes:
    data = bytearray()
    while chunk := await stream.read():
        data += chunk
        if len(data) > MAX_STDIN:
            break
    return bytes(data[:MAX_STDIN])


def stdin_source(handset: HandsetHost, stream: Stream, v2: bool) -> Callable[[], bytes]:
    """For the shell's worker thread: the client's stdin, read only if a command reads it
    (`adb shell 'cat > f' < file`); shell v2 ends it with CLOSE_STDIN, exec with CLSE.
    The command waits for it with the state lock set down: a client that never closes
    stdin stalls its own session only."""
    loop = asyncio.get_running_loop()
    cache: list[bytes] = []

    def read() -> bytes:
        if not cache:
            coro = _read_v2_stdin(stream) if v2 else _read_raw_stdin(stream)
            future = asyncio.run_coroutine_threadsafe(coro, loop)
            with handset.state.lock.released():
                cache.append(future.result(STDIN_TIMEOUT))
        return cache[0]

    return read


async def shell_v1(handset: HandsetHost, stream: Stream, command: str) -> None:
    out, _, _ = await run_shell(handset, command, merged=True)
    await stream.write(out)


async def shell_v2(handset: HandsetHost, stream: Stream, command: str) -> None:
    out, err, code = await run_shell(handset, command, stdin_source(handset, stream, v2=True))
    payload = b""
    if out:
        payload += v2_packet(ID_STDOUT, out)
    if err:
        payload += v2_packet(ID_STDERR, err)
    await stream.write(payload + v2_packet(ID_EXIT, bytes([code & 0xFF])))


def streaming_install_size(command: str) -> tuple[int, list[str]] | None:
    """(size, flags) for `cmd package install -S N ...` / `pm install -S N`; else None."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if argv[:3] == ["cmd", "package", "install"]:
        rest = argv[3:]
    elif argv[:2] == ["pm", "install"]:
        rest = argv[2:]
    else:
        return None
    if "-S" not in rest or rest.index("-S") + 1 >= len(rest) or not rest[rest.index("-S") + 1].isdigit():
        return None
    size = int(rest[rest.index("-S") + 1])
    return size, [a for a in rest if a.startswith("-") and a != "-S"]


async def exec_(handset: HandsetHost, stream: Stream, command: str) -> None:
    install = streaming_install_size(command)
    if install is None:
        out, _, _ = await run_shell(handset, command, stdin_source(handset, stream, v2=False), merged=True)
        await stream.write(out)
        return
    size, flags = install
    if size > MAX_INSTALL:
        await stream.write(b"Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE]\n")
        return
    try:
        data = await stream.readexactly(size)
    except StreamClosed:
        return
    ok, text = await asyncio.to_thread(_install, handset, data, flags)
    await stream.write((text + "\n").encode())


def _install(handset: HandsetHost, data: bytes, flags: list[str]) -> tuple[bool, str]:
    """In a worker thread: adbd's event loop never waits for the state lock."""
    with handset.state.lock:
        return install_apk(handset.state, data, flags, handset.apps)


async def root(handset: HandsetHost, stream: Stream, want_root: bool) -> None:
    """`adb root` / `adb unroot`: only userdebug/eng builds that are rooted; adbd restarts."""
    state = handset.state
    if want_root and (state.props.get("ro.debuggable") != "1" or not state.rooted):
        await stream.write(b"adbd cannot run as root in production builds\n")
        return
    if state.adbd_root == want_root:
        await stream.write(b"adbd is already running as root\n" if want_root else b"adbd not running as root\n")
        return
    await stream.write(b"restarting adbd as root\n" if want_root else b"restarting adbd as non root\n")
    await stream.close()

    def switch() -> None:
        with state.lock:
            state.adbd_root = want_root
            state.props["service.adb.root"] = "1" if want_root else "0"

    await asyncio.to_thread(switch)
    handset.request_restart_adbd()


async def reboot(handset: HandsetHost, stream: Stream) -> None:
    await stream.close()
    handset.request_reboot()


async def reverse(handset: HandsetHost, stream: Stream, conn: AdbConnection, request: str) -> None:
    def proto(text: str) -> bytes:
        data = text.encode()
        return f"{len(data):04x}".encode() + data

    def fail(text: str) -> bytes:
        return b"FAIL" + proto(text)

    if request == "list-forward":
        lines = "".join(f"{handset.transport_name(c)} {local} {remote}\n"
                        for local, (c, remote) in handset.reverse_table().items())
        await stream.write(proto(lines))
        return
    if request == "killforward-all":
        await handset.remove_reverse(None)
        await stream.write(b"OKAY")
        return
    if request.startswith("killforward:"):
        local = request.split(":", 1)[1]
        if await handset.remove_reverse(local):
            await stream.write(b"OKAY")
        else:
            await stream.write(fail(f"listener '{local}' not found"))
        return
    if request.startswith("forward:"):
        spec = request[len("forward:"):]
        norebind = spec.startswith("norebind:")
        if norebind:
            spec = spec[len("norebind:"):]
        local, _, remote = spec.partition(";")
        if not local.startswith("tcp:") or not local[4:].isdigit():
            await stream.write(fail(f"unknown local socket specification: {local}" if not local.startswith("tcp:")
                                    else f"bad port number '{local[4:]}'"))
            return
        if not remote.startswith("tcp:") or not remote[4:].isdigit():
            await stream.write(fail(f"unknown remote socket specification: {remote}"))
            return
        try:
            port = await handset.add_reverse(conn, int(local[4:]), remote, norebind)
        except OSError as e:
            await stream.write(fail(f"cannot bind listener: {e.strerror or e}"))
            return
        except ValueError as e:
            await stream.write(fail(str(e)))
            return
        await stream.write(b"OKAY" + (proto(str(port)) if local == "tcp:0" else b""))
        return
    await stream.write(fail(f"unknown reverse request: {request}"))


async def pipe(stream: Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               chunk: int) -> None:
    """Bytes both ways between an ADB stream and a socket; either side closing ends both."""

    async def to_stream() -> None:
        while True:
            data = await reader.read(chunk)
            if not data:
                return
            await stream.write(data)

    async def to_socket() -> None:
        while True:
            data = await stream.read()
            if not data:
                return
            writer.write(data)
            await writer.drain()

    tasks = [asyncio.create_task(to_stream()), asyncio.create_task(to_socket())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, (StreamClosed, ConnectionError)):
                log.warning("pipe ended: %r", exc)
    finally:
        for task in tasks:
            task.cancel()
        writer.close()
        try:
            await stream.close()
        except StreamClosed:
            pass


async def tcp_forward(handset: HandsetHost, stream: Stream, port: int) -> None:
    """`adb forward` lands here: connect to the handset's own loopback:port."""
    try:
        reader, writer = await asyncio.open_connection(handset.state.device_loopback, port)
    except OSError:
        return
    await pipe(stream, reader, writer, stream.conn.max_payload)
