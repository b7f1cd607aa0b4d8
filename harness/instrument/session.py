"""One instrumented app process: a frida session, its one script, and its teardown.

Frida's callbacks (messages, detach) arrive on frida's thread; they only hand things to
the HookSink's queue. Teardown flushes the agent, unloads the script (frida reverts every
Interceptor and Java hook with it), detaches the session, and removes our handlers.

Every call that needs the agent to answer is bounded: an app that is frozen (or stopped
with SIGSTOP) never answers, and frida's own calls would wait for it forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import frida

from harness.errors import InstrumentError
from harness.instrument.origin import Origin
from harness.instrument.receiver import HookSink
from harness.instrument.records import RecordBatch
from harness.instrument.rows import Dictionary

log = logging.getLogger(__name__)

_FRIDA_ERRORS = (
    frida.InvalidOperationError, frida.TransportError, frida.ProcessNotFoundError,
    frida.ProcessNotRespondingError, frida.PermissionDeniedError, frida.NotSupportedError,
    frida.InvalidArgumentError, frida.TimedOutError, frida.ProtocolError,
    frida.OperationCancelledError,
)
_STEP_FLOOR = 1.0  # seconds each teardown step gets even when the flush used up the timeout


class _NoAnswer(InstrumentError):
    """The agent (or frida on its behalf) did not answer within the time given."""


def _rpc_within(script: frida.core.Script, name: str, args: tuple[Any, ...], timeout: float) -> Any:
    """Call one rpc export, waiting at most `timeout` seconds for the answer.

    frida's exports_sync waits without a limit, so the call runs on a short-lived daemon
    thread; one left waiting ends when the script is destroyed (unload, detach, app exit).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = getattr(script.exports_sync, name)(*args)
        except (*_FRIDA_ERRORS, frida.core.RPCException) as e:
            outcome["error"] = e

    thread = threading.Thread(target=run, name=f"rpc-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _NoAnswer(f"no answer to rpc {name} within {timeout:.1f} s")
    if "error" in outcome:
        raise outcome["error"]
    if "value" not in outcome:
        raise InstrumentError(f"rpc {name} ended without an answer")
    return outcome["value"]


def _within(operation: Callable[[], None], timeout: float) -> None:
    """Run a frida operation (unload, detach), cancelling it after `timeout` seconds:
    raises frida.OperationCancelledError then."""
    cancellable = frida.Cancellable()
    timer = threading.Timer(timeout, cancellable.cancel)
    timer.daemon = True
    timer.start()
    try:
        with cancellable:
            operation()
    finally:
        timer.cancel()


class SessionState(StrEnum):
    ATTACHED = "attached"
    DETACHED = "detached"  # by us
    DIED = "died"  # the process ended
    LOST = "lost"  # the connection or the device went away


@dataclass(frozen=True)
class SessionInfo:
    """What attach/spawn returns: the process, the parts loaded, what the agent installed."""

    package: str
    pid: int
    parts: tuple[str, ...]
    spawned: bool
    installed: dict[str, Any]


class AppSession:
    def __init__(self, device: frida.core.Device, origin: Origin, sink: HookSink):
        self.origin = origin
        self.state = SessionState.ATTACHED
        self.detach_reason: str | None = None
        self.final_stats: dict[str, Any] | None = None  # the agent's counters at teardown
        self._device = device
        self._sink = sink
        self._dictionary = Dictionary(origin)  # the agent's definitions (rows refer to them)
        self._session: frida.core.Session | None = None
        self._script: frida.core.Script | None = None
        self._lock = threading.Lock()

    # -- setup ---------------------------------------------------------------------------

    def start(self, source: str, options: dict[str, Any]) -> dict[str, Any]:
        """Attach, load the agent, install its hooks; returns the agent's install summary."""
        pid = self.origin.pid
        try:
            self._session = self._device.attach(pid)
        except _FRIDA_ERRORS as e:
            raise InstrumentError(f"cannot attach to {self.origin.package} (pid {pid}): {e}") from e
        self._session.on("detached", self._on_detached)
        try:
            self._script = self._session.create_script(source, name=f"lab-{self.origin.package}")
            self._script.on("message", self._on_message)
            self._script.load()
            summary = self._script.exports_sync.init(options)
        except (*_FRIDA_ERRORS, frida.core.RPCException) as e:
            self.close()
            raise InstrumentError(f"cannot load the agent into {self.origin.package} (pid {pid}): {e}") from e
        return summary if isinstance(summary, dict) else {"summary": summary}

    # -- frida's thread ----------------------------------------------------------------------

    def _on_message(self, message: dict[str, Any], data: bytes | None) -> None:
        kind = message.get("type")
        if kind == "send":
            payload = message.get("payload")
            if isinstance(payload, dict) and payload.get("type") == "batch":
                events = payload.get("events")
                if isinstance(events, list):
                    seq = payload.get("seq")
                    dropped = payload.get("dropped")
                    defs = payload.get("defs")
                    # definitions first, even if the queue then drops the batch: later rows use them
                    if defs is not None and self._dictionary.define(defs):
                        log.warning("malformed definitions from %s: %.300r", self.origin.package, defs)
                    self._sink.submit_batch(
                        self.origin, events, dropped if isinstance(dropped, int) else 0,
                        lambda: self._ack(seq), self._dictionary,
                    )
                    return
            if isinstance(payload, dict) and payload.get("type") == "records" and data is not None:
                threads = payload.get("threads")
                batch = RecordBatch(str(payload.get("kind")), str(payload.get("api")), bytes(data),
                                    threads if isinstance(threads, dict) else {})
                seq = payload.get("seq")
                self._sink.submit_batch(self.origin, batch, 0, lambda: self._ack(seq))
                return
            self._sink.submit_unhandled(self.origin, payload)
        elif kind == "error":
            log.warning("agent error in %s: %s", self.origin.package, message.get("description"))
            self._sink.submit_record(self.origin, {
                "type": "hook:error", "ts": time.time(), "api": "agent", "category": "agent",
                "value": message.get("description"), "stack": str(message.get("stack", "")).splitlines(),
                "thread": None,
            })
        else:
            self._sink.submit_unhandled(self.origin, message)

    def _ack(self, seq: Any) -> None:
        script = self._script
        if script is None or self.state is not SessionState.ATTACHED:
            return
        try:
            script.post({"type": "ack", "seq": seq})
        except _FRIDA_ERRORS as e:
            log.debug("ack to %s after detach: %s", self.origin.package, e)

    def _on_detached(self, reason: str, crash: Any) -> None:
        with self._lock:
            if self.state is not SessionState.ATTACHED:
                return
            self.detach_reason = reason
            if reason == "application-requested":
                self.state = SessionState.DETACHED
                return
            died = reason in ("process-terminated", "process-replaced")
            self.state = SessionState.DIED if died else SessionState.LOST
        record: dict[str, Any] = {
            "type": "app:died" if died else "app:detached", "ts": time.time(), "api": None,
            "category": "lifecycle", "value": reason, "stack": [], "thread": None, "reason": reason,
        }
        if crash is not None:
            record["crash"] = {"summary": getattr(crash, "summary", None), "report": getattr(crash, "report", None)}
        log.info("%s (pid %s) %s: %s", self.origin.package, self.origin.pid, record["type"], reason)
        self._sink.submit_record(self.origin, record)

    # -- control ---------------------------------------------------------------------------

    def call(self, name: str, *args: Any, timeout: float = 10.0) -> Any:
        """Call one of the agent's rpc exports (flush, stats, set_enabled, stop); an agent
        that does not answer within `timeout` seconds is an InstrumentError."""
        script = self._script
        if script is None or self.state is not SessionState.ATTACHED:
            raise InstrumentError(f"{self.origin.package} is not attached ({self.state.value})")
        try:
            return _rpc_within(script, name, args, timeout)
        except _NoAnswer as e:
            raise InstrumentError(f"rpc {name} to {self.origin.package}: {e}") from e
        except (*_FRIDA_ERRORS, frida.core.RPCException) as e:
            raise InstrumentError(f"rpc {name} to {self.origin.package} failed: {e}") from e

    def _final_flush(self, script: frida.core.Script, deadline: float) -> dict[str, Any] | None:
        """Stop the agent's hooks and take every event it holds (until `deadline`, a
        time.monotonic() value); count what cannot come."""
        final: dict[str, Any] | None = None
        pending = 0
        try:
            while True:
                wait = max(deadline - time.monotonic(), _STEP_FLOOR)
                final = _rpc_within(script, "stop", (), wait)
                pending = int(final.get("pending", 0)) if isinstance(final, dict) else 0
                if pending == 0 or time.monotonic() > deadline:
                    break
                self._sink.drain(0.5)  # the writer acknowledges; the window reopens
        except _NoAnswer as e:
            log.warning("%s (pid %s): the agent did not answer at teardown (%s); detaching anyway",
                        self.origin.package, self.origin.pid, e)
            self._sink.submit_record(self.origin, {
                "type": "hook:error", "ts": time.time(), "api": "agent", "category": "agent",
                "value": f"the agent did not answer stop at teardown ({e}); events it held are lost",
                "stack": [], "thread": None, "where": "teardown",
            })
        except (*_FRIDA_ERRORS, frida.core.RPCException) as e:
            log.debug("final flush of %s failed: %s", self.origin.package, e)
            return final
        if pending:
            self._sink.record_loss(self.origin, pending, "teardown")
        return final

    def close(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """Flush the agent, unload it, detach; safe to call twice and after the app died.

        Returns within about `timeout` seconds (each step gets at least _STEP_FLOOR) even
        when the app never answers: what did not answer is logged and left behind."""
        deadline = time.monotonic() + timeout
        final: dict[str, Any] | None = None
        script, session = self._script, self._session
        if script is not None and self.state is SessionState.ATTACHED:
            final = self._final_flush(script, deadline)
        with self._lock:
            if self.state is SessionState.ATTACHED:
                self.state = SessionState.DETACHED
                self.detach_reason = "application-requested"
        if script is not None:
            try:
                _within(script.unload, max(deadline - time.monotonic(), _STEP_FLOOR))
            except frida.OperationCancelledError:
                log.warning("%s: unload got no answer; the hooks stay until the app answers",
                            self.origin.package)
            except _FRIDA_ERRORS as e:
                log.debug("unload in %s: %s", self.origin.package, e)
            script.off("message", self._on_message)
        if session is not None:
            try:
                _within(session.detach, max(deadline - time.monotonic(), _STEP_FLOOR))
            except frida.OperationCancelledError:
                log.warning("%s: detach got no answer; leaving the session behind", self.origin.package)
            except _FRIDA_ERRORS as e:
                log.debug("detach from %s: %s", self.origin.package, e)
            session.off("detached", self._on_detached)
        self._script = self._session = None
        if final is not None:
            self.final_stats = final
        return final
