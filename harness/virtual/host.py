"""What the ADB services and shell sessions (services.py, terminal.py) need from a
handset; handset.Handset provides it. A leaf below both, so neither imports the handset."""

from __future__ import annotations

from typing import Protocol

from harness.virtual.adbd import AdbConnection
from harness.virtual.shell import ShellHost


class HandsetHost(ShellHost, Protocol):
    """The shell's host (state, apps, request_reboot) plus adbd's own controls."""

    def request_restart_adbd(self) -> None:
        """adbd restarts (after `adb root`): every transport drops."""

    def transport_name(self, conn: AdbConnection) -> str:
        """The adb server's name for this transport (`adb reverse --list`)."""

    def reverse_table(self) -> dict[str, tuple[AdbConnection, str]]:
        """{"tcp:PORT": (owning connection, remote spec)} of live reverse forwards."""

    async def add_reverse(self, conn: AdbConnection, port: int, remote: str, norebind: bool) -> int:
        """Listen on the handset's loopback PORT (0: any) for `conn`; the bound port."""

    async def remove_reverse(self, local: str | None) -> bool:
        """Drop one reverse forward ("tcp:PORT"), or all of them (None)."""
