"""The handset layer, over adbutils: choice, DeviceInfo, quoted shell commands, prepare
and restore with a journal, apps, CA install, frida-server, canaries.

The orchestrator's entry points:

    handset = open_device("virtual:vendor-1.0" or serial or None, lab)
    prepared = prepare(handset, lab, profile, proxy_port, ca_pem, capture_dir)
    ...  apps.launch(handset, pkg), apps.pidof(handset, pkg), ...
    restore(handset, prepared.journal)
    handset.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.devices.choice import adb_client, attached, choose_serial
from harness.devices.handset import Handset, RootMethod, ShellResult
from harness.devices.info import DeviceInfo
from harness.devices.journal import Journal, pending_journals
from harness.devices.prepare import Prepared, after_reboot, device_entry, prepare
from harness.devices.restore import RestoreResult, restore, restore_pending

if TYPE_CHECKING:
    from adbutils import AdbClient

    from harness.config import LabConfig

__all__ = [
    "DeviceInfo", "Handset", "Journal", "Prepared", "after_reboot", "RestoreResult", "RootMethod", "ShellResult",
    "adb_client", "attached", "choose_serial", "device_entry", "list_devices", "open_device",
    "pending_journals", "prepare", "restore", "restore_pending",
]


def open_device(serial: str | None, lab: LabConfig | None = None,
                client: AdbClient | None = None) -> Handset:
    """A Handset for `serial` (or ANDROID_SERIAL, or the only one), starting and
    connecting a virtual handset for `virtual:<name>`. Close it when done."""
    from harness.devices.virtual_launch import is_virtual, launch_virtual

    client = client or adb_client()
    if serial and is_virtual(serial):
        handle = launch_virtual(client, serial, lab.state_dir / "virtual" if lab else None)
        return Handset(client, handle.serial, virtual=handle)
    return Handset(client, choose_serial(serial, client))


def list_devices(client: AdbClient | None = None) -> tuple[list[DeviceInfo], list[str]]:
    """DeviceInfo of every handset in state "device", and a line for each other one."""
    from harness.errors import DeviceError

    client = client or adb_client()
    infos: list[DeviceInfo] = []
    problems: list[str] = []
    for found in attached(client):
        if found.state != "device":
            problems.append(found.describe())
            continue
        try:
            infos.append(Handset(client, found.serial).info)
        except DeviceError as e:
            problems.append(f"{found.serial}: {e}")
    return infos, problems
