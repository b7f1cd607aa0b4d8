"""A private adb server (its own port, HOME and TMPDIR; mDNS off) with one virtual handset
connected to it, for benchmarks that drive a handset through the real adb."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import adbutils

from harness.virtual.launcher import VirtualHandsetProcess, start_handset


@dataclass(frozen=True)
class AdbWorld:
    port: int
    client: adbutils.AdbClient
    handset: VirtualHandsetProcess
    started_in: float  # seconds from launching the handset process to its ready-file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def connected_handset(name: str, tmp: Path) -> Iterator[AdbWorld]:
    """Start the adb server and handset `name`, `adb connect` it; stop both on exit."""
    port = _free_port()
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "ADB_MDNS": "0",
           "ADB_MDNS_OPENSCREEN": "0", "HOME": str(tmp), "TMPDIR": str(tmp)}
    adb = adbutils.adb_path()
    server = subprocess.Popen([adb, "-P", str(port), "nodaemon", "server"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    handset = start_handset(name, tmp / "handset")
    started_in = time.perf_counter() - started
    try:
        time.sleep(0.5)
        subprocess.run([adb, "-P", str(port), "connect", handset.serial], env=env,
                       capture_output=True, timeout=30)
        subprocess.run([adb, "-P", str(port), "-s", handset.serial, "wait-for-device"],
                       env=env, timeout=30)
        yield AdbWorld(port, adbutils.AdbClient("127.0.0.1", port), handset, started_in)
    finally:
        handset.stop()
        subprocess.run([adb, "-P", str(port), "kill-server"], env=env, capture_output=True, timeout=10)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
