"""Which Frida device to talk to, and whether its frida-server matches this harness.

- local: the virtual handset's apps are JVM processes on this machine; frida's local device
  attaches to them by PID (no frida-server involved).
- usb: a real phone running frida-server; frida reaches it through the adb server
  (`frida -U`), the device id being the adb serial.
- remote: `adb forward tcp:LOCAL tcp:27042` and a remote device on 127.0.0.1:LOCAL, for
  setups where frida's USB transport cannot see the phone.

The frida-server on a phone must be the same version as the frida Python package here;
`check_server` refuses anything else, naming the binary to install.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass

import adbutils
import frida

from harness.config import FridaMode
from harness.devices.paths import ADB_SERVER_PORT, FRIDA_SERVER_PATH, FRIDA_SERVER_PORT
from harness.errors import InstrumentError

log = logging.getLogger(__name__)


# frida's arch names and Android ABIs -> the suffix of frida-server release assets
_ARCH = {
    "arm64": "arm64", "arm": "arm", "ia32": "x86", "x64": "x86_64",
    "arm64-v8a": "arm64", "armeabi-v7a": "arm", "armeabi": "arm", "x86": "x86", "x86_64": "x86_64",
}
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class AdbServer:
    host: str = "127.0.0.1"
    port: int = ADB_SERVER_PORT

    def client(self) -> adbutils.AdbClient:
        return adbutils.AdbClient(host=self.host, port=self.port, socket_timeout=10)


@dataclass(frozen=True)
class ServerInfo:
    """What was checked: the host frida version, the server's (None for local), its arch."""

    host_version: str
    server_version: str | None
    arch: str | None


@dataclass
class ResolvedDevice:
    """A frida device plus what has to be undone when done (an adb forward)."""

    device: frida.core.Device
    mode: FridaMode
    serial: str
    forward_port: int | None = None
    adb: AdbServer | None = None

    def release(self) -> None:
        if self.forward_port is None or self.adb is None:
            return
        port, self.forward_port = self.forward_port, None
        try:
            frida.get_device_manager().remove_remote_device(f"127.0.0.1:{port}")
        except (frida.InvalidArgumentError, frida.TransportError) as e:
            log.debug("remote device 127.0.0.1:%s already gone: %s", port, e)
        try:
            self.adb.client().device(self.serial).forward_remove(f"tcp:{port}", raise_non_found=False)
        except adbutils.AdbError as e:
            log.warning("could not remove adb forward tcp:%s on %s: %s", port, self.serial, e)


def resolve_device(
    mode: FridaMode | str, serial: str, *, adb: AdbServer | None = None, timeout: float = 10.0
) -> ResolvedDevice:
    """The frida device for a handset, by mode; InstrumentError when it cannot be reached."""
    mode = FridaMode(mode)
    if mode is FridaMode.LOCAL:
        return ResolvedDevice(frida.get_local_device(), mode, serial)
    if mode is FridaMode.USB:
        try:
            return ResolvedDevice(frida.get_device(serial, timeout=int(max(timeout, 1))), mode, serial)
        except (frida.InvalidArgumentError, frida.TimedOutError, frida.TransportError) as e:
            raise InstrumentError(
                f"frida sees no USB device {serial!r} ({e}); check `adb devices` shows it as "
                "'device' and that frida-server runs on it"
            ) from e
    adb = adb or AdbServer()
    try:
        port = adb.client().device(serial).forward_port(FRIDA_SERVER_PORT)
    except adbutils.AdbError as e:
        raise InstrumentError(f"adb forward tcp:{FRIDA_SERVER_PORT} on {serial!r} failed: {e}") from e
    try:
        device = frida.get_device_manager().add_remote_device(f"127.0.0.1:{port}")
    except (frida.InvalidArgumentError, frida.TransportError) as e:
        ResolvedDevice(frida.get_local_device(), mode, serial, port, adb).release()
        raise InstrumentError(f"cannot reach frida-server through adb forward 127.0.0.1:{port}: {e}") from e
    return ResolvedDevice(device, mode, serial, port, adb)


def server_version_over_adb(adb: AdbServer, serial: str, path: str = FRIDA_SERVER_PATH) -> tuple[str, str]:
    """(`frida-server --version`, ro.product.cpu.abi) read over adb."""
    try:
        device = adb.client().device(serial)
        output = device.shell(f"{shlex.quote(path)} --version", timeout=15)
        abi = device.shell("getprop ro.product.cpu.abi", timeout=15)
    except adbutils.AdbError as e:
        raise InstrumentError(f"cannot run {path} --version on {serial!r}: {e}") from e
    return str(output).strip(), str(abi).strip()


def release_asset(version: str, arch: str | None) -> str:
    suffix = _ARCH.get(arch or "", arch or "<arch>")
    return f"frida-server-{version}-android-{suffix}.xz"


def check_server(
    resolved: ResolvedDevice, server_version: str | None = None, abi: str | None = None
) -> ServerInfo:
    """Refuse a frida-server whose version differs from the frida package here.

    Call before loading anything. `server_version` is what `frida-server --version` printed
    on the handset (see server_version_over_adb); without it the check relies on the
    server answering frida's protocol at all (a different major version does not).
    """
    host = frida.__version__
    if resolved.mode is FridaMode.LOCAL:
        return ServerInfo(host, None, None)
    if server_version is not None:
        reported = server_version.strip()
        if not _VERSION.match(reported) or reported != host:
            shown = reported if _VERSION.match(reported) else f"of unknown version ({reported[:60]!r})"
            raise InstrumentError(
                f"frida-server {shown} on {resolved.serial}; this harness needs frida-server {host} "
                f"for android-{_ARCH.get(abi or '', abi or 'ARCH')}: {release_asset(host, abi)}"
            )
    how = "USB" if resolved.mode is FridaMode.USB else f"adb forward tcp:{resolved.forward_port}"
    try:
        params = resolved.device.query_system_parameters()
    except frida.ProtocolError as e:
        raise InstrumentError(
            f"frida-server on {resolved.serial} does not speak this frida's protocol ({e}); "
            f"this harness needs frida-server {host} for android-{_ARCH.get(abi or '', 'ARCH')}: "
            f"{release_asset(host, abi)}"
        ) from e
    except (frida.TransportError, frida.ServerNotRunningError, frida.NotSupportedError,
            frida.TimedOutError) as e:
        raise InstrumentError(
            f"no frida-server answers on {resolved.serial} through {how} ({e}); start it as root "
            f"(adb shell su -c '{FRIDA_SERVER_PATH} -D') or run `lab prepare`"
        ) from e
    arch = abi or str(params.get("arch", "")) or None
    return ServerInfo(host, server_version, arch)
