"""The virtual adbd under many, slow and hostile peers: garbage, stdin, sleeping commands,
concurrent sessions, a peer that ignores flow control."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from pathlib import Path

import pytest

from harness.virtual.protocol import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_WRTE,
    HEADER,
    MAX_PAYLOAD,
    pack,
)

pytestmark = pytest.mark.e2e


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.settimeout(5)
        try:
            return s.recv(100)
        except (TimeoutError, ConnectionResetError):
            return b"timeout"


def test_garbage_closes_only_that_connection(virtual_handset) -> None:
    h = virtual_handset("reference")
    port = h.process.port
    cnxn = 0x4E584E43
    bad_magic = struct.pack("<6I", cnxn, 0x01000001, 4096, 0, 0, 0x12345678)
    huge = struct.pack("<6I", cnxn, 0x01000001, 4096, 2**31, 0, cnxn ^ 0xFFFFFFFF)
    for junk in (os.urandom(4096), bad_magic, huge):
        assert _raw(port, junk) == b""  # closed by the handset, no reply
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # closed mid-message
        s.sendall(huge[:24] + b"x" * 100)
    assert h.device.shell("echo still-here") == "still-here"
    assert h.process.alive


def test_stdin_reaches_commands_that_read_it(virtual_handset, tmp_path: Path) -> None:
    h = virtual_handset("reference")
    blob = os.urandom(200_000)
    res = h.adb.run("-s", h.serial, "shell", "cat > /data/local/tmp/in.bin", input=blob)
    assert res.returncode == 0
    assert h.device.sync.read_bytes("/data/local/tmp/in.bin") == blob
    res = h.adb.run("-s", h.serial, "exec-in", "cat > /sdcard/x.bin", input=b"exec-in data")
    assert h.device.sync.read_bytes("/sdcard/x.bin") == b"exec-in data"
    assert h.adb.run("-s", h.serial, "shell", "echo no stdin needed", input=b"ignored").stdout == b"no stdin needed\n"


def test_stop_does_not_wait_for_sleeping_commands(virtual_handset) -> None:
    import subprocess

    h = virtual_handset("reference")
    sleeper = subprocess.Popen([h.adb.adb_path, "-P", str(h.adb.port), "-s", h.serial, "shell", "sleep 30"],
                               env=h.adb.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        t = time.monotonic()
        assert h.process.stop(timeout=20) == 0
        assert time.monotonic() - t < 10
    finally:
        sleeper.kill()
        sleeper.wait(10)


def test_concurrent_sessions(virtual_handset) -> None:
    from concurrent.futures import ThreadPoolExecutor

    h = virtual_handset("reference")

    def work(i: int) -> str:
        h.device.shell(f"settings put global lab_key_{i} {i}")
        return h.device.shell(f"getprop ro.product.model; settings get global lab_key_{i}")

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(work, range(36)))
    assert results == [f"Pixel 7\n{i}" for i in range(36)]


def test_a_session_waiting_on_stdin_or_sleeping_stalls_no_other(virtual_handset, tmp_path: Path) -> None:
    """Issue 19: `adb shell cat` waiting on stdin (and a nested `sleep`) held the handset's
    state lock, so every other command, push and logcat of the handset waited with it."""
    import subprocess

    h = virtual_handset("reference")
    adb = [h.adb.adb_path, "-P", str(h.adb.port), "-s", h.serial]
    cat = subprocess.Popen([*adb, "shell", "cat"], env=h.adb.env, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sleeper = subprocess.Popen([*adb, "shell", "sh -c 'sleep 25'"], env=h.adb.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)  # both sessions are running on the handset now
        for command, expected in [("getprop ro.product.model", "Pixel 7\n"),
                                  ("settings put global lab_key 7; settings get global lab_key", "7\n"),
                                  ("echo piped | cat", "piped\n"),
                                  ("ls -d /data/local/tmp", "/data/local/tmp\n")]:
            started = time.monotonic()
            res = h.adb.run("-s", h.serial, "shell", command, timeout=15)
            assert (res.stdout, res.returncode) == (expected, 0)
            assert time.monotonic() - started < 10, command
        (tmp_path / "f.txt").write_bytes(b"pushed meanwhile")
        assert h.adb.run("-s", h.serial, "push", str(tmp_path / "f.txt"), "/sdcard/f.txt",
                         timeout=15).returncode == 0
        log = h.device.shell("logcat", stream=True)
        try:
            log.conn.settimeout(10)
            assert log.conn.recv(4096).startswith(b"--------- beginning of main\n")
        finally:
            log.close()
        assert h.adb.run("-s", h.serial, "shell", "cat /sdcard/f.txt", timeout=15).stdout == "pushed meanwhile"
        out, _ = cat.communicate(b"typed while the others ran\n", timeout=15)
        assert out == b"typed while the others ran\n"  # the waiting session still works
    finally:
        for proc in (cat, sleeper):
            proc.kill()
            proc.wait(10)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_a_peer_ignoring_flow_control_is_closed_not_buffered(virtual_handset) -> None:
    """Issue 19: 1 GiB of WRTE sent without waiting for OKAY raised the handset's RSS by
    ~0.9 GB. 48 MB at a shell that reads no stdin: the handset closes that stream, its
    RSS stays flat, and it keeps answering."""
    h = virtual_handset("reference")
    before = _rss_kb(h.process.pid)

    async def flood() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.process.port)

        async def msg() -> tuple[int, int, int]:
            command, arg0, arg1, length, _, _ = HEADER.unpack(await reader.readexactly(HEADER.size))
            await reader.readexactly(length)
            return command, arg0, arg1

        writer.write(pack(A_CNXN, A_VERSION, MAX_PAYLOAD, b"host::\0"))
        assert (await msg())[0] == A_CNXN
        writer.write(pack(A_OPEN, 9, 0, b"shell,v2,raw:sleep 30\0"))
        command, local, _ = await msg()
        assert command == A_OKAY
        chunk = pack(A_WRTE, 9, local, b"\0" * MAX_PAYLOAD, with_checksum=False)

        async def send() -> None:
            for _ in range(48):
                writer.write(chunk)
                await writer.drain()

        async def closed() -> None:
            while (await msg())[:3:2] != (A_CLSE, 9):
                pass

        sending, closing = asyncio.create_task(send()), asyncio.create_task(closed())
        await asyncio.wait_for(sending, 30)
        grown_mb = (_rss_kb(h.process.pid) - before) / 1024
        assert grown_mb < 16, f"the handset's RSS grew by {grown_mb:.0f} MB"
        await asyncio.wait_for(closing, 10)  # long before `sleep 30` ends by itself
        writer.close()

    asyncio.run(flood())
    assert h.device.shell("echo alive", timeout=10) == "alive"
