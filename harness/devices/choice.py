"""Which handset: explicit serial, then ANDROID_SERIAL, then the only one attached.

Like adbutils' `AdbClient.device()`, but the error lists what is attached and says
whether a handset is offline or unauthorized rather than missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from adbutils import AdbClient
from adbutils.errors import AdbError

from harness.errors import DeviceError, DeviceNotFoundError, DeviceOfflineError

DEFAULT_ADB_PORT = 5037


@dataclass(frozen=True)
class Attached:
    """One line of `adb devices -l`."""

    serial: str
    state: str
    model: str = ""

    def describe(self) -> str:
        model = f" ({self.model})" if self.model else ""
        return f"{self.serial} [{self.state}]{model}"


def adb_client(env: Mapping[str, str] | None = None) -> AdbClient:
    """An adbutils client for the adb server named by ANDROID_ADB_SERVER_HOST/PORT."""
    env = os.environ if env is None else env
    host = env.get("ANDROID_ADB_SERVER_HOST") or "127.0.0.1"
    raw_port = env.get("ANDROID_ADB_SERVER_PORT") or str(DEFAULT_ADB_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        raise DeviceError(f"ANDROID_ADB_SERVER_PORT={raw_port!r} is not a port number") from None
    return AdbClient(host=host, port=port, socket_timeout=60)


def attached(client: AdbClient) -> list[Attached]:
    """Everything the adb server knows of, in any state."""
    try:
        infos = client.list(extended=True)
    except (AdbError, OSError) as e:
        raise DeviceError(f"cannot reach the adb server at {client.host}:{client.port}: {e}") from e
    return [Attached(i.serial, i.state, i.tags.get("model", "")) for i in infos]


def _listing(devices: list[Attached]) -> str:
    if not devices:
        return "no handset is attached"
    return "attached: " + ", ".join(d.describe() for d in devices)


def _usable(found: Attached) -> str:
    if found.state == "device":
        return found.serial
    if found.state in ("offline", "unauthorized", "authorizing", "connecting"):
        hint = " (accept the USB debugging prompt on the phone)" if found.state == "unauthorized" else ""
        raise DeviceOfflineError(f"handset {found.serial} is {found.state}{hint}")
    raise DeviceOfflineError(f"handset {found.serial} is in state {found.state!r}, not 'device'")


def choose_serial(
    serial: str | None, client: AdbClient, env: Mapping[str, str] | None = None
) -> str:
    """The serial to use, or DeviceNotFoundError / DeviceOfflineError saying why not."""
    env = os.environ if env is None else env
    devices = attached(client)
    wanted = serial or env.get("ANDROID_SERIAL") or None
    if wanted:
        for found in devices:
            if found.serial == wanted:
                return _usable(found)
        source = "" if serial else " (from ANDROID_SERIAL)"
        raise DeviceNotFoundError(f"handset {wanted}{source} not found; {_listing(devices)}")
    if len(devices) == 1:
        return _usable(devices[0])
    if not devices:
        raise DeviceNotFoundError("no handset is attached (check `adb devices`)")
    raise DeviceNotFoundError(
        f"{len(devices)} handsets are attached; name one with --device or ANDROID_SERIAL; "
        f"{_listing(devices)}"
    )
