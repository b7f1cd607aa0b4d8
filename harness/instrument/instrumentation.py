"""Instrumentation: the orchestrator's handle on Frida for one handset and one capture.

    with Instrumentation(entry, serial, capture_dir, hook_sets=["sensitive", "network"],
                         unpin_packages=["com.vendor.pinned"]) as inst:
        inst.attach("com.vendor.app", pid)   # an app already running (virtual handsets)
        inst.spawn("com.vendor.other")       # start it with the hooks in (real phones)
        ...
    # hooks.jsonl holds every event, app:died records for apps that ended on their own.

One frida session and one script per app process; all of them feed one HookSink (one
writer thread) in front of capture_dir/hooks.jsonl.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frida

from harness.capture import HOOKS_JSONL, JsonlWriter
from harness.config import DeviceEntry, FridaMode
from harness.errors import InstrumentError
from harness.instrument.agents import (
    Part,
    agent_source,
    cmodule_source,
    parse_parts,
    parse_unpin_libraries,
)
from harness.instrument.device import (
    FRIDA_SERVER_PATH,
    AdbServer,
    ResolvedDevice,
    ServerInfo,
    check_server,
    resolve_device,
    server_version_over_adb,
)
from harness.instrument.origin import Origin
from harness.instrument.receiver import HookSink, SinkStats
from harness.instrument.session import AppSession, SessionInfo, SessionState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentOptions:
    """How agents are built and configured (stack depth, value cap, native backtraces...)."""

    stack_depth: int = 24
    max_value: int = 8192
    native_backtrace: bool = False
    java_timeout_ms: int = 15000
    java_bridge: bool = True  # False: native hooks only (no Java runtime in the process)
    fast_native: bool = True  # connect() from non-Java threads through a CModule ring
    fast_java: bool = True  # Java stacks and thread names keyed through JVMTI (java_sites.c)
    unpin_libraries: tuple[str, ...] | None = None  # unpin.js bypasses to apply (None: all)

    def for_agent(self, parts: Iterable[Part]) -> dict[str, Any]:
        parts = tuple(parts)
        options: dict[str, Any] = {
            "stackDepth": self.stack_depth, "maxValue": self.max_value,
            "nativeBacktrace": self.native_backtrace, "javaTimeoutMs": self.java_timeout_ms,
            "parts": [p.value for p in parts],
        }
        if self.fast_native and Part.NETWORK in parts:
            options["connectCModule"] = cmodule_source("network_fast.c")
        if self.fast_java and self.java_bridge:
            options["javaSitesCModule"] = cmodule_source("java_sites.c")
        if Part.UNPIN in parts:
            libraries = parse_unpin_libraries(self.unpin_libraries)
            options["unpinLibraries"] = None if libraries is None else list(libraries)
        return options


@dataclass(frozen=True)
class InstrumentStats:
    events: int
    records: int
    dropped: int
    dropped_agent: int
    dropped_host: int
    unhandled: int
    per_package: dict[str, Any]
    sessions: dict[str, str]


class Instrumentation:
    """Frida on one handset, writing capture_dir/hooks.jsonl."""

    def __init__(
        self,
        device: DeviceEntry | FridaMode | str,
        serial: str,
        capture_dir: Path,
        hook_sets: Iterable[str] = (Part.SENSITIVE, Part.NETWORK),
        unpin_packages: Iterable[str] = (),
        *,
        adb: AdbServer | None = None,
        options: AgentOptions | None = None,
        check_version: bool = True,
    ):
        if isinstance(device, DeviceEntry):
            mode, server_path = device.frida, device.frida_server
        else:
            mode, server_path = FridaMode(device), None
        self.serial = serial
        self.mode = mode
        self.options = options or AgentOptions()
        self._parts = tuple(p for p in parse_parts(hook_sets) if p is not Part.UNPIN)
        self._unpin = frozenset(unpin_packages)
        self._adb = adb
        self._sessions: dict[str, AppSession] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._resolved: ResolvedDevice = resolve_device(mode, serial, adb=adb)
        try:
            self.server: ServerInfo = self._check(check_version, server_path)
        except InstrumentError:
            self._resolved.release()
            raise
        self.hooks_path = Path(capture_dir) / HOOKS_JSONL
        self._writer = JsonlWriter(self.hooks_path)
        self._sink = HookSink(self._writer)

    def _check(self, check_version: bool, server_path: Path | None) -> ServerInfo:
        if not check_version or self.mode is FridaMode.LOCAL:
            return check_server(self._resolved)
        version = abi = None
        if self._adb is not None:
            path = str(server_path) if server_path is not None else FRIDA_SERVER_PATH
            version, abi = server_version_over_adb(self._adb, self.serial, path)
        return check_server(self._resolved, version, abi)

    # -- public API ------------------------------------------------------------------------

    def parts_for(self, package: str) -> tuple[Part, ...]:
        """The agent parts loaded into `package`: the hook sets, plus unpin when asked for it."""
        return self._parts + ((Part.UNPIN,) if package in self._unpin else ())

    def attach(self, package: str, pid: int) -> SessionInfo:
        """Instrument a running process (what `pidof PACKAGE` returned)."""
        return self._start(package, int(pid), spawned=False)

    def spawn(self, package: str, argv: list[str] | None = None) -> SessionInfo:
        """Start `package` suspended, load the hooks, then let it run.

        On a phone frida-server spawns the package itself; on the local device (a JVM on
        this machine) `argv` is the command line. Java hooks are installed as soon as the
        runtime is up (the agent waits for it), so even the first reads are traced.
        """
        if self.mode is FridaMode.LOCAL and not argv:
            raise InstrumentError(
                "spawning on the local device needs a command line; on a virtual handset start "
                "the app (am start) and attach to the PID that pidof gives"
            )
        program = list(argv) if argv else [package]
        try:
            pid = self._resolved.device.spawn(program)
        except (frida.NotSupportedError, frida.ExecutableNotFoundError, frida.TransportError,
                frida.TimedOutError, frida.PermissionDeniedError, frida.InvalidArgumentError) as e:
            raise InstrumentError(f"cannot spawn {package} on {self.serial}: {e}") from e
        try:
            info = self._start(package, pid, spawned=True)
        except InstrumentError:
            self._kill_quietly(pid)
            raise
        try:
            self._resolved.device.resume(pid)
        except (frida.InvalidOperationError, frida.ProcessNotFoundError, frida.TransportError) as e:
            raise InstrumentError(f"cannot resume {package} (pid {pid}): {e}") from e
        return info

    def _start(self, package: str, pid: int, *, spawned: bool) -> SessionInfo:
        if self._closed:
            raise InstrumentError("instrumentation is closed")
        with self._lock:
            current = self._sessions.get(package)
            if (current is not None and current.state is SessionState.ATTACHED
                    and current.origin.pid == pid):
                raise InstrumentError(f"{package} (pid {pid}) is already instrumented")
        if current is not None:
            current.close()  # an earlier process of the package (ended or replaced)
        parts = self.parts_for(package)
        source = agent_source(parts, java=self.options.java_bridge)
        session = AppSession(self._resolved.device, Origin(self.serial, package, pid), self._sink)
        installed = session.start(source, self.options.for_agent(parts))
        with self._lock:
            self._sessions[package] = session
        return SessionInfo(package, pid, tuple(p.value for p in parts), spawned, installed)

    def _kill_quietly(self, pid: int) -> None:
        try:
            self._resolved.device.kill(pid)
        except (frida.ProcessNotFoundError, frida.TransportError, frida.InvalidOperationError) as e:
            log.debug("kill %s: %s", pid, e)

    def detach(self, package: str) -> None:
        """Flush and remove the hooks of one app; the app keeps running."""
        with self._lock:
            session = self._sessions.pop(package, None)
        if session is None:
            raise InstrumentError(f"{package} is not instrumented")
        session.close()

    def agent_stats(self, package: str) -> dict[str, Any] | None:
        """The agent's counters (emitted, sent, dropped, pending...): live while attached,
        as they were at teardown afterwards; None for a package never instrumented."""
        session = self._sessions.get(package)
        if session is None:
            return None
        if session.state is SessionState.ATTACHED:
            return session.call("stats")
        return session.final_stats

    def set_enabled(self, package: str, enabled: bool) -> None:
        """Pause or resume recording in one app (hooks stay installed)."""
        session = self._sessions.get(package)
        if session is None:
            raise InstrumentError(f"{package} is not instrumented")
        session.call("set_enabled", bool(enabled))

    def state(self, package: str) -> SessionState | None:
        session = self._sessions.get(package)
        return None if session is None else session.state

    def flush(self, timeout: float = 5.0) -> bool:
        """Ask every live agent to send what it holds, then wait until it is written."""
        for session in list(self._sessions.values()):
            if session.state is SessionState.ATTACHED:
                try:
                    session.call("flush")
                except InstrumentError as e:
                    log.debug("flush: %s", e)
        return self._sink.drain(timeout)

    @property
    def stats(self) -> InstrumentStats:
        s: SinkStats = self._sink.stats()
        return InstrumentStats(
            events=s.events, records=s.records, dropped=s.dropped, dropped_agent=s.dropped_agent,
            dropped_host=s.dropped_host, unhandled=s.unhandled,
            per_package={k: vars(v) for k, v in s.per_package.items()},
            sessions={k: v.state.value for k, v in self._sessions.items()},
        )

    def close(self) -> InstrumentStats:
        """Detach from every app, write what is queued, close hooks.jsonl; idempotent."""
        if self._closed:
            return self.stats
        self._closed = True
        with self._lock:
            sessions, self._sessions = dict(self._sessions), {}
        for session in sessions.values():
            session.close()
        self._sink.drain(10.0)
        self._sink.close()
        self._writer.close()
        self._resolved.release()
        self._sessions = sessions
        return self.stats

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
