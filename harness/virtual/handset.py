"""One virtual handset: state + adbd server + app host + (optional) virtual internet.

`Handset.start()` listens on 127.0.0.1:PORT, derives the handset's device loopback
address from the port (unique while the port is held), starts the internet and boots
the apps. Reverse forwards belong to the ADB connection that made them and go away
with it (as on a phone when USB is unplugged) or on reboot.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.virtual import services
from harness.virtual.adbd import AdbConnection, AdbdServer, ServiceFn
from harness.virtual.apps import make_app_host
from harness.virtual.spec import HandsetSpec
from harness.virtual.state import HandsetState

log = logging.getLogger(__name__)

# Features we implement; no delayed_ack, no stat_v2/ls_v2/sendrecv_v2, no abb.
FEATURES = ["shell_v2", "cmd", "fixed_push_mkdir"]
REBOOT_DOWNTIME = 1.0
SHELL_THREADS = 32


def device_loopback_for(port: int) -> str:
    hi, lo = port >> 8, port & 0xFF
    return f"127.{hi}.{lo}.1" if hi else f"127.77.{lo}.1"


def start_internet(runtime_dir: Path) -> Any | None:
    """The virtual internet, if harness.virtual.internet provides start_internet()."""
    module = importlib.import_module("harness.virtual.internet")
    starter = getattr(module, "start_internet", None)
    if starter is None:
        return None
    return starter(runtime_dir)


class Handset:
    def __init__(self, spec: HandsetSpec, runtime_dir: Path, port: int = 0) -> None:
        self.spec = spec
        self.runtime_dir = runtime_dir
        self.server = AdbdServer(self, "127.0.0.1", port)
        self.state: HandsetState = None  # type: ignore[assignment]  # set by start()
        self.apps: Any = None
        self.internet: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._reverse: dict[int, tuple[asyncio.Server, AdbConnection, str]] = {}
        self._conn_names: dict[AdbConnection, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.rebooting = False

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> int:
        self.loop = asyncio.get_running_loop()
        # shell commands run in worker threads; some wait (stdin, sleep, monkey --throttle)
        self.loop.set_default_executor(ThreadPoolExecutor(SHELL_THREADS, thread_name_prefix="vshell"))
        port = await self.server.start()
        self.state = HandsetState(self.spec, device_loopback_for(port))
        self.internet = await asyncio.to_thread(start_internet, self.runtime_dir)
        self._trust_internet_ca()
        self.apps = make_app_host(self.state, self.internet)
        await asyncio.to_thread(self.apps.boot)
        return port

    def _trust_internet_ca(self) -> None:
        if self.internet is None:
            return
        pem = None
        ca = getattr(self.internet, "ca_pem", None) or getattr(self.internet, "ca_path", None)
        zone = getattr(self.internet, "zone_path", None)
        try:
            if isinstance(ca, bytes):
                pem = ca
            elif ca:
                pem = Path(ca).read_bytes()
            elif zone:
                pem = Path(json.loads(Path(zone).read_text())["ca"]).read_bytes()
        except (OSError, KeyError, ValueError) as e:
            log.warning("virtual internet CA not readable: %s", e)
        if pem:
            self.state.add_system_ca(pem)

    @property
    def zone_path(self) -> Path | None:
        zone = getattr(self.internet, "zone_path", None)
        return Path(zone) if zone else None

    async def stop(self) -> None:
        if self.state is not None:
            self.state.stopping.set()
        for port in list(self._reverse):
            await self._close_reverse(port)
        await self.server.stop()
        if self.apps is not None:
            await asyncio.to_thread(self.apps.shutdown)
        if self.internet is not None:
            await asyncio.to_thread(self.internet.stop)
            self.internet = None

    # --- adbd.Device -----------------------------------------------------------------
    def banner(self) -> str:
        p = self.state.props
        return (f"device::ro.product.name={p['ro.product.name']};ro.product.model={p['ro.product.model']};"
                f"ro.product.device={p['ro.product.device']};features={','.join(FEATURES)}")

    def resolve(self, service: str, conn: AdbConnection) -> ServiceFn | None:
        if self.rebooting:
            return None
        return services.resolve(self, service, conn)

    def authorized(self) -> bool:
        return not self.spec.faults.adb_unauthorized

    def connection_closed(self, conn: AdbConnection) -> None:
        self._conn_names.pop(conn, None)
        for port, (_, owner, _) in list(self._reverse.items()):
            if owner is conn:
                self._drop_reverse(port)

    def transport_name(self, conn: AdbConnection) -> str:
        return self._conn_names.setdefault(conn, f"host-{len(self._conn_names) + 19}")

    # --- ShellHost ---------------------------------------------------------------------
    def request_reboot(self) -> None:
        """Callable from any thread (shell commands run in worker threads)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(lambda: self._spawn(self.reboot()))

    def request_restart_adbd(self) -> None:
        """adbd restarts (after `adb root`): every transport drops, the adb server reconnects."""
        self._spawn(self._restart_adbd())

    async def _restart_adbd(self) -> None:
        if self.rebooting:
            return
        self.rebooting = True
        try:
            await asyncio.sleep(0.05)
            await self.server.drop_all()
            await asyncio.sleep(0.3)
        finally:
            self.rebooting = False

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reboot(self) -> None:
        if self.rebooting:
            return
        self.rebooting = True
        try:
            await self.server.drop_all()
            for port in list(self._reverse):
                await self._close_reverse(port)
            await asyncio.to_thread(self.apps.shutdown)
            await asyncio.to_thread(self.state.reboot)  # takes the state lock: not on the loop
            await asyncio.sleep(REBOOT_DOWNTIME)
            await asyncio.to_thread(self.apps.boot)
        finally:
            self.rebooting = False

    # --- reverse forwards ----------------------------------------------------------------
    def reverse_table(self) -> dict[str, tuple[AdbConnection, str]]:
        return {f"tcp:{port}": (conn, remote) for port, (_, conn, remote) in self._reverse.items()}

    async def add_reverse(self, conn: AdbConnection, port: int, remote: str, norebind: bool) -> int:
        if port in self._reverse:
            if norebind:
                raise ValueError("cannot rebind existing socket")
            await self._close_reverse(port)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.state.conditions.loopback_blocked(bound):  # a firewall rule on lo: refused
                writer.close()
                return
            stream = await conn.open_to_host(remote)
            if stream is None:
                writer.close()
                return
            await services.pipe(stream, reader, writer, conn.max_payload)

        server = await asyncio.start_server(accept, self.state.device_loopback, port)
        bound = server.sockets[0].getsockname()[1]
        self._reverse[bound] = (server, conn, remote)
        self.state.reverse[f"tcp:{bound}"] = remote
        return bound

    async def remove_reverse(self, local: str | None) -> bool:
        if local is None:
            for port in list(self._reverse):
                await self._close_reverse(port)
            return True
        if not local.startswith("tcp:") or not local[4:].isdigit() or int(local[4:]) not in self._reverse:
            return False
        await self._close_reverse(int(local[4:]))
        return True

    async def _close_reverse(self, port: int) -> None:
        self._drop_reverse(port)

    def _drop_reverse(self, port: int) -> None:
        entry = self._reverse.pop(port, None)
        self.state.reverse.pop(f"tcp:{port}", None)
        if entry is not None:
            entry[0].close()


__all__ = ["FEATURES", "Handset", "device_loopback_for", "start_internet"]
