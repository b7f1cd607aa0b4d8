"""Compile and start the Tracker test app (fixtures/java): shared by tests and bench."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

JAVA_SOURCES = Path(__file__).parent.parent / "instrument" / "fixtures" / "java"
MAIN = "com.vendor.analytics.Tracker"
PACKAGE = "com.vendor.analytics"


def compile_tracker(out: Path) -> Path:
    sources = sorted(str(p) for p in JAVA_SOURCES.rglob("*.java"))
    subprocess.run(["javac", "-d", str(out), *sources], check=True, capture_output=True, timeout=120)
    return out


def start_tracker(classes: Path, mode: str, imei: str, *args: str) -> subprocess.Popen[str]:
    """Start the app; in "read" and "threads" modes, return once it printed "ready"."""
    process = subprocess.Popen(
        ["java", "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dsun.net.inetaddr.ttl=0",
         "-cp", str(classes),
         MAIN, mode, imei, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
    )
    if mode in ("read", "threads"):
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.kill()
            process.wait(timeout=10)
            raise RuntimeError(f"tracker did not start: {line!r}")
    return process


def stop_process(process: subprocess.Popen[str]) -> None:
    """Kill a process we started, by its PID. Not Popen.kill(): frida's child watch in this
    process may reap before Popen does, after which Popen believes the process is gone."""
    try:
        os.kill(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    if process.stdout is not None:
        process.stdout.close()
