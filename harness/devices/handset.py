"""One handset over adbutils: shell with exit status, root, push, reverse forwards.

Every adbutils exception is converted here, narrowly, into the DeviceError family:
a handset the adb server no longer knows (or whose socket died) is DeviceLostError,
offline/unauthorized is DeviceOfflineError, a non-zero exit is DeviceCommandError with
its output. Shell strings come from `shellquote` builders only.
"""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass
from typing import Any

from adbutils import AdbClient, AdbDevice
from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

from harness.devices.info import (
    DeviceInfo,
    RootMethod,
    info_from,
    info_probe_command,
    parse_getprop,
    probe_command,
    root_from_probe,
)
from harness.devices.shellquote import W, check_adb_socket, check_path, cmd
from harness.errors import (
    DeviceCommandError,
    DeviceError,
    DeviceLostError,
    DeviceOfflineError,
)


@dataclass(frozen=True)
class ShellResult:
    command: str
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class Reverse:
    remote: str  # on the handset, e.g. tcp:8080
    local: str  # on the host, e.g. tcp:8080


def convert_adb_error(e: BaseException, serial: str, doing: str) -> DeviceError:
    """Map one adbutils/socket exception to the DeviceError family."""
    text = " ".join(str(a) for a in getattr(e, "args", ()) if isinstance(a, str)) or str(e)
    low = text.lower()
    if "unauthorized" in low:
        return DeviceOfflineError(f"handset {serial} is unauthorized (while {doing})")
    if "offline" in low:  # it answered before: mid-run, offline means gone
        return DeviceLostError(f"handset {serial} went offline while {doing}")
    if isinstance(e, AdbConnectionError):
        return DeviceError(f"the adb server went away while {doing} on {serial}: {text}")
    if isinstance(e, AdbTimeout | socket.timeout | TimeoutError):
        return DeviceLostError(f"handset {serial} stopped answering while {doing}")
    if "not found" in low or "no devices" in low or isinstance(e, OSError | EOFError):
        return DeviceLostError(f"handset {serial} disappeared while {doing}: {text}")
    return DeviceCommandError(f"adb failed while {doing} on {serial}: {text}", output=text)


class Handset:
    """A chosen handset. `virtual` is the virtual handset handle when we started one."""

    def __init__(self, client: AdbClient, serial: str, virtual: Any = None):
        self.client = client
        self.serial = serial
        self.adb: AdbDevice = client.device(serial)
        self.virtual = virtual
        self._root: RootMethod | None = None
        self._info: Any = None

    def __repr__(self) -> str:
        return f"Handset({self.serial!r})"

    # --- shell ------------------------------------------------------------------

    def sh(self, command: str, *, check: bool = True, timeout: float = 120) -> ShellResult:
        """Run one command line (built with shellquote.cmd) as the shell user."""
        try:
            raw = self.adb.shell2(command, timeout=timeout, v2=True)
        except (AdbError, OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, f"running `{command}`") from e
        result = ShellResult(command, raw.returncode, raw.stdout or "", raw.stderr or "")
        if check and not result.ok:
            raise DeviceCommandError(
                f"`{command}` failed on {self.serial} (exit {result.exit_status}): "
                f"{result.output.strip()[:500]}",
                output=result.output,
                exit_status=result.exit_status,
            )
        return result

    @property
    def root(self) -> RootMethod:
        if self._root is None:
            self._root = root_from_probe(self.sh(probe_command(), check=False).stdout)
        return self._root

    def su(self, command: str, *, check: bool = True, timeout: float = 120) -> ShellResult:
        """Run one command line as root, the way this handset allows."""
        return self.sh(as_root(self.root, command, self.serial), check=check, timeout=timeout)

    # --- files ------------------------------------------------------------------

    def push_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        remote = check_path(remote)
        try:
            self.adb.sync.push(io.BytesIO(data), remote, mode)
        except (AdbError, OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, f"pushing {remote}") from e

    def exists(self, path: str, *, as_root: bool = False) -> bool:
        line = cmd(W("ls"), W("-d"), check_path(path))
        run = self.su if as_root else self.sh
        return run(line, check=False).ok

    # --- reverse forwards ---------------------------------------------------------

    def reverse_list(self) -> list[Reverse]:
        try:
            items = self.adb.reverse_list()
        except (AdbError, OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, "listing reverse forwards") from e
        return [Reverse(i.remote, i.local) for i in items]

    def reverse(self, remote: str, local: str) -> None:
        remote, local = check_adb_socket(remote), check_adb_socket(local)
        try:
            self.adb.reverse(remote, local)
        except (AdbError, OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, f"adb reverse {remote} {local}") from e

    def reverse_remove(self, remote: str) -> None:
        remote = check_adb_socket(remote)
        try:
            self.adb.reverse_remove(remote)
        except AdbError as e:
            if "not found" in str(e).lower() and "listener" in str(e).lower():
                return
            raise convert_adb_error(e, self.serial, f"removing reverse {remote}") from e
        except (OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, f"removing reverse {remote}") from e

    # --- state ----------------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        """DeviceInfo, read once, in two round trips: getprop and the probe line."""
        if self._info is None:
            self._info = read_info(self)
            self._root = RootMethod(self._info.root_method)
        return self._info

    def state(self) -> str:
        try:
            return self.adb.get_state()
        except (AdbError, OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, "reading its state") from e

    def reboot(self, timeout: float = 180.0) -> float:
        """Reboot and wait until the handset answers a shell again; returns the seconds taken.

        A reboot drops tmpfs/bind mounts and reverse forwards: see prepare.after_reboot.
        """
        start = time.monotonic()
        try:
            with self.adb.open_transport() as c:
                c.send_command("reboot:")
                c.check_okay()
        except (AdbError, OSError, EOFError) as e:
            raise convert_adb_error(e, self.serial, "rebooting") from e
        time.sleep(1.0)
        deadline = start + timeout
        while time.monotonic() < deadline:
            state = self._state_or_none()
            if state is None and ":" in self.serial:
                try:  # a TCP handset must be connected again once it listens
                    self.client.connect(self.serial, timeout=5)
                except (AdbError, OSError):
                    pass
            elif state == "device":
                try:
                    if self.sh(cmd(W("getprop"), W("sys.boot_completed")), check=False).stdout.strip() == "1":
                        return time.monotonic() - start
                except DeviceError:
                    pass
            time.sleep(0.5)
        raise DeviceLostError(f"handset {self.serial} did not come back within {timeout:.0f}s of a reboot")

    def _state_or_none(self) -> str | None:
        try:
            for info in self.client.list():
                if info.serial == self.serial:
                    return info.state
        except (AdbError, OSError):
            return None
        return None

    def close(self) -> None:
        """Stop the virtual handset we started (real handsets stay as they are)."""
        if self.virtual is not None:
            from harness.devices.virtual_launch import stop_virtual

            stop_virtual(self.client, self.virtual)
            self.virtual = None

    def __enter__(self) -> Handset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_root(method: RootMethod, command: str, serial: str = "") -> str:
    """The command line that runs `command` as root with `method`."""
    if method == RootMethod.ADBD:
        return command
    if method == RootMethod.SU_C:
        return cmd(W("su"), W("-c"), command)
    if method == RootMethod.SU_0:
        return cmd(W("su"), W("0"), W("sh"), W("-c"), command)
    raise DeviceCommandError(f"handset {serial} is not rooted; this step needs root")


def read_info(handset: Handset) -> DeviceInfo:
    """DeviceInfo read afresh in two round trips: getprop and the probe line (with the
    Mainline module versions)."""
    props = parse_getprop(handset.sh(cmd(W("getprop"))).stdout)
    probe = handset.sh(info_probe_command(), check=False)
    return info_from(handset.serial, props, probe.stdout)
