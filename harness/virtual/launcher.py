"""Start a virtual handset as its own OS process (for `virtual:<name>` serials and tests).

    handset = start_handset("vendor-1.0", runtime_dir)   # waits for the ready-file
    handset.serial  # "127.0.0.1:PORT", to `adb connect`
    handset.stop()  # SIGTERM, wait, SIGKILL if needed; the app host shuts down with it
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DeviceError

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class HandsetStartError(DeviceError):
    """The handset process exited or did not become ready in time."""


@dataclass(frozen=True)
class VirtualHandsetProcess:
    serial: str
    port: int
    pid: int
    device_loopback: str
    zone_path: Path | None
    ready: dict[str, Any]
    runtime_dir: Path
    log_path: Path
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Terminate the handset and wait; kill it if it does not end in time."""
        if self._popen is None:
            return _stop_pid(self.pid, timeout)
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(5)
        return self._popen.returncode


def _stop_pid(pid: int, timeout: float) -> int | None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return 0
    return -9


def start_handset(name_or_spec_path: str | Path, runtime_dir: Path, port: int = 0,
                  timeout: float = READY_TIMEOUT, python: str | None = None) -> VirtualHandsetProcess:
    """Start `python -m harness.virtual serve` and wait until its ready-file appears."""
    runtime_dir = Path(runtime_dir)
    runtime_dir.mkdir(parents=True, exist_ok=True)
    ready_file = runtime_dir / "ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = runtime_dir / "handset.log"
    cmd = [python or sys.executable, "-m", "harness.virtual", "serve", "--handset", str(name_or_spec_path),
           "--port", str(port), "--ready-file", str(ready_file), "--runtime-dir", str(runtime_dir),
           "--log-level", "INFO"]
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                 start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if popen.poll() is not None:
            raise HandsetStartError(f"virtual handset {name_or_spec_path} exited with {popen.returncode}: "
                                    f"{_tail(log_path)}")
        if time.monotonic() > deadline:
            popen.kill()
            popen.wait(5)
            raise HandsetStartError(f"virtual handset {name_or_spec_path} not ready after {timeout:.0f}s")
        time.sleep(0.05)
    info = json.loads(ready_file.read_text())
    zone = info.get("zone_path")
    return VirtualHandsetProcess(serial=info["serial"], port=int(info["port"]), pid=popen.pid,
                                 device_loopback=info["device_loopback"], zone_path=Path(zone) if zone else None,
                                 ready=info, runtime_dir=runtime_dir, log_path=log_path, _popen=popen)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
