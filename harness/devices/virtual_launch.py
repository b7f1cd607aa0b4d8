"""`virtual:<handset>` serials: start a virtual handset and attach it to the adb server.

The one module in harness/devices that imports harness.virtual (its launcher only); the
harness then talks to the handset through the adb server like to any phone. Each handset
gets a runtime folder under `<state_dir>/virtual/` naming its owner (virtual_runtime.py),
removed when the handset is stopped, and by `lab restore` if its owner was killed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from adbutils import AdbClient
from adbutils.errors import AdbError

from harness.devices.virtual_runtime import record_owner, remove_runtime
from harness.errors import DeviceError, DeviceNotFoundError, DeviceOfflineError
from harness.names import file_name

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

    folder = file_name(Path(name).stem if name.endswith((".yaml", ".yml")) else name, "handset")
    if runtime_root is None:
        runtime_dir = Path(tempfile.mkdtemp(prefix=f"lab-virtual-{folder}-"))
    else:  # absolute: `lab restore` finds the handset's processes by it
        runtime_dir = Path(runtime_root).resolve() / f"{folder}-{os.getpid()}-{time.time_ns()}"
    try:
        record_owner(runtime_dir, name)  # first: a kill from here on leaves a folder to clean up
        handle = start_handset(name, runtime_dir)
    except DeviceError:
        _discard(runtime_dir)
        raise
    except (OSError, ValueError, KeyError, LookupError) as e:
        _discard(runtime_dir)
        raise DeviceNotFoundError(f"cannot start virtual handset {name!r}: {e}") from e
    try:
        connect(client, handle.serial, timeout)
    except BaseException:
        handle.stop()
        if not handle.alive:
            _discard(handle.runtime_dir)
        raise
    return handle


def _discard(runtime_dir: Path) -> None:
    """Remove the folder of a handset that did not come up; the error at hand is the news."""
    with contextlib.suppress(DeviceError):
        remove_runtime(runtime_dir)


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
        if state == "unauthorized":  # nobody will tap "Allow" on a virtual handset
            raise DeviceOfflineError(f"handset {serial} is unauthorized: it answered with AUTH and "
                                     f"accepts no key of this adb server ({last.strip()})")
        if state in ("offline", "connecting", "authorizing", None):
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
    """Disconnect and stop the handset; remove its runtime folder once it has ended (one
    that did not end stays for `lab restore`)."""
    try:
        client.disconnect(handle.serial)
    except (AdbError, OSError):
        pass
    handle.stop()
    if not handle.alive:
        remove_runtime(handle.runtime_dir)
