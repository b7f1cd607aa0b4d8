"""`virtual:<handset>` serials: start a virtual handset and attach it to the adb server.

The one module in harness/devices that imports harness.virtual (its launcher only); the
harness then talks to the handset through the adb server like to any phone.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from adbutils import AdbClient
from adbutils.errors import AdbError

from harness.errors import DeviceError, DeviceNotFoundError, DeviceOfflineError

PREFIX = "virtual:"


def is_virtual(serial: str | None) -> bool:
    return bool(serial) and serial.startswith(PREFIX)


def launch_virtual(client: AdbClient, spec: str, runtime_root: Path | None = None,
                   timeout: float = 30.0) -> Any:
    """Start `virtual:<name>`, `adb connect` it, wait for state "device"; return the handle
    (serial, port, pid, device_loopback, zone_path, stop())."""
    name = spec[len(PREFIX):] if is_virtual(spec) else spec
    if not name:
        raise DeviceNotFoundError(f"{spec!r} names no virtual handset")
    from harness.virtual.launcher import start_handset

    if runtime_root is None:
        runtime_dir = Path(tempfile.mkdtemp(prefix=f"lab-virtual-{name}-"))
    else:
        runtime_dir = Path(runtime_root) / f"{name}-{os.getpid()}-{time.time_ns()}"
    try:
        handle = start_handset(name, runtime_dir)
    except DeviceError:
        raise
    except (OSError, ValueError, KeyError, LookupError) as e:
        raise DeviceNotFoundError(f"cannot start virtual handset {name!r}: {e}") from e
    try:
        connect(client, handle.serial, timeout)
    except BaseException:
        handle.stop()
        raise
    return handle


def connect(client: AdbClient, serial: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            last = client.connect(serial, timeout=10) or ""
        except (AdbError, OSError) as e:
            last = str(e)
        state = _state(client, serial)
        if state == "device":
            return
        if state in ("offline", "unauthorized", "connecting", "authorizing", None):
            time.sleep(0.2)
            continue
        raise DeviceOfflineError(f"virtual handset {serial} is {state}")
    raise DeviceError(f"virtual handset {serial} did not come up within {timeout:.0f}s ({last})")


def _state(client: AdbClient, serial: str) -> str | None:
    try:
        for info in client.list():
            if info.serial == serial:
                return info.state
    except (AdbError, OSError):
        return None
    return None


def stop_virtual(client: AdbClient, handle: Any) -> None:
    try:
        client.disconnect(handle.serial)
    except (AdbError, OSError):
        pass
    handle.stop()
