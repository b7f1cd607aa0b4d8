"""Long-lived shell sessions: an interactive `adb shell` (with a pty's echo and line
editing when asked for one) and a streaming `logcat` that follows new lines until the
client goes away."""

from __future__ import annotations

import asyncio
import shlex
import struct

from harness.virtual.adbd import Stream, StreamClosed
from harness.virtual.host import HandsetHost
from harness.virtual.shell import IO, Shell
from harness.virtual.shell.system import format_log_line, logcat_format

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN = 0, 1, 2, 3, 4
LOGCAT_POLL = 0.2


def v2_packet(kind: int, data: bytes) -> bytes:
    return struct.pack("<BI", kind, len(data)) + data


class LineDiscipline:
    """What a pty does for a line-based shell: echo, backspace, ^C, ^D on an empty line."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, list[str], bool]:
        echo = bytearray()
        lines: list[str] = []
        for b in data:
            if b in (10, 13):
                echo += b"\r\n"
                lines.append(self.buf.decode("utf-8", "replace"))
                self.buf.clear()
            elif b in (8, 127):
                if self.buf:
                    self.buf.pop()
                    echo += b"\b \b"
            elif b == 3:
                echo += b"^C\r\n"
                self.buf.clear()
                lines.append("")
            elif b == 4:
                if not self.buf:
                    return bytes(echo), lines, True
            elif b >= 32 or b == 9:
                self.buf.append(b)
                echo.append(b)
        return bytes(echo), lines, False


def prompt(handset: HandsetHost, uid: int) -> bytes:
    return f"{handset.state.props.get('ro.product.device', 'android')}:/ {'#' if uid == 0 else '$'} ".encode()


async def interactive(handset: HandsetHost, stream: Stream, v2: bool, pty: bool) -> None:
    """A shell reading commands from the client (no command given to `adb shell`)."""
    shell = Shell(handset)
    discipline = LineDiscipline() if pty else None

    async def send(data: bytes, kind: int = ID_STDOUT) -> None:
        if data:
            if pty:
                data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            await stream.write(v2_packet(kind, data) if v2 else data)

    async def read_input() -> bytes | None:
        """Next stdin bytes; None at end of input."""
        if not v2:
            data = await stream.read()
            return data or None
        while True:
            try:
                kind, length = struct.unpack("<BI", await stream.readexactly(5))
                data = await stream.readexactly(length) if length else b""
            except StreamClosed:
                return None
            if kind == ID_CLOSE_STDIN:
                return None
            if kind == ID_STDIN:
                return data

    async def run(line: str) -> bool:
        if line.strip() == "exit":
            return False
        io = IO()
        if pty:
            io.err = io.out  # a pty merges stderr into the terminal
        await asyncio.to_thread(shell.run_in, line, io)
        await send(bytes(io.out))
        await send(bytes(io.err), ID_STDERR)
        return True

    if pty:
        await send(prompt(handset, shell.uid))
    pending = b""
    alive = True
    while alive:
        data = await read_input()
        if data is None:
            break
        if discipline is not None:
            echo, lines, eof = discipline.feed(data)
            await send(echo)
            for line in lines:
                alive = await run(line)
                if not alive:
                    break
                await send(prompt(handset, shell.uid))
            alive = alive and not eof
            continue
        pending += data.replace(b"\r\n", b"\n")
        while alive and b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            alive = await run(line.decode("utf-8", "replace"))
    if alive and pending.strip():
        await run(pending.decode("utf-8", "replace"))
    if v2:
        await stream.write(v2_packet(ID_EXIT, bytes([shell.last & 0xFF])))


def streaming_logcat(command: str) -> list[str] | None:
    """argv of a plain `logcat [...]` that follows the log (no -d/-c/-t, no shell syntax)."""
    if any(ch in command for ch in ";|&<>$`()"):
        return None
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if not argv or argv[0] not in ("logcat", "/system/bin/logcat"):
        return None
    if any(a in ("-d", "-c", "--clear", "-t", "-T", "-g", "-f", "--help") for a in argv[1:]):
        return None
    return argv


async def follow_logcat(handset: HandsetHost, stream: Stream, argv: list[str], v2: bool) -> None:
    state = handset.state
    fmt = logcat_format(argv)

    async def send(text: str) -> None:
        data = text.encode("utf-8", "replace")
        await stream.write(v2_packet(ID_STDOUT, data) if v2 else data)

    def since(seen: int) -> tuple[list[tuple[float, int, int, str, str, str]], int]:
        """Lines logged after the first `seen` ones, and the new count (a worker thread
        takes the state lock: adbd's event loop never waits for it)."""
        with state.lock:
            fresh = min(state.log_total - seen, len(state.log))
            return (list(state.log)[len(state.log) - fresh:] if fresh > 0 else []), state.log_total

    entries, seen = await asyncio.to_thread(since, 0)
    await send("--------- beginning of main\n" + "".join(format_log_line(e, fmt) + "\n" for e in entries))
    while not stream.closed:
        await asyncio.sleep(LOGCAT_POLL)
        entries, seen = await asyncio.to_thread(since, seen)
        if entries:
            await send("".join(format_log_line(e, fmt) + "\n" for e in entries))
