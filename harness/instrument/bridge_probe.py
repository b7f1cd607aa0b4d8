"""`lab doctor`'s Java bridge check: can Frida's Java bridge work in an app on this ART?

A Google Play system update can replace ART (the com.android.art APEX) under a Frida
release that does not know it yet; the bridge then fails inside every app. The probe
attaches to one harmless app process (a candidate from `ps`, UID >= 10000), loads a script
made of frida-tools' Java bridge and agents/bridge_probe.js (it checks `Java.available`
and uses one class, java.lang.System, in `Java.performNow`), then detaches; an attach that
times out is tried again. Virtual handsets: Frida's
local device and the app's JVM (a candidate is taken only if the local process of that
PID carries the app's name).
"""

from __future__ import annotations

import threading
from typing import Any

import frida

from harness.config import FridaMode
from harness.devices.doctor import Check, Status, passed
from harness.errors import InstrumentError
from harness.instrument.agents import AGENTS_DIR, java_bridge_path
from harness.instrument.device import AdbServer, ResolvedDevice, resolve_device

PROBE_AGENT = AGENTS_DIR / "bridge_probe.js"  # loaded after frida-tools' Java bridge
ATTACH_TRIES = 3  # a loaded phone or machine can time an attach out: try again, as a run does
TIMEOUT = 60.0
AVOID = ("com.android.systemui", "system_server", "com.android.phone")  # attach where a hiccup costs nothing
_ERRORS = (frida.InvalidOperationError, frida.TransportError, frida.ProcessNotFoundError,
           frida.ProcessNotRespondingError, frida.PermissionDeniedError, frida.NotSupportedError,
           frida.InvalidArgumentError, frida.TimedOutError, frida.ProtocolError, frida.ServerNotRunningError,
           frida.core.RPCException)

FIX = ("use a Frida release that supports this ART: `pip install -U frida frida-tools` and the matching "
       "frida-server; an ART module updated by a Google Play system update is the usual cause (see the "
       "run's device.art_version)")


def check_java_bridge(serial: str, mode: FridaMode, candidates: list[tuple[int, str]],
                      art: str = "", adb: AdbServer | None = None) -> Check:
    """Attach to the first usable candidate (pid, name), probe, detach."""
    try:
        resolved = resolve_device(mode, serial, adb=adb)
    except InstrumentError as e:
        return Check("java bridge", Status.FAIL, f"Frida cannot reach the handset: {e}",
                     "start frida-server as root (`lab run` does; by hand: "
                     "`adb shell su -c '/data/local/tmp/frida-server -D'`)")
    try:
        target = _target(resolved, mode, candidates)
        if target is None:
            return Check("java bridge", Status.WARN, "no app process runs to attach to",
                         "start an app (`adb shell monkey -p PACKAGE 1`) and run `lab doctor` again")
        return _probe(resolved.device, *target, art)
    finally:
        resolved.release()


def _target(resolved: ResolvedDevice, mode: FridaMode, candidates: list[tuple[int, str]]) -> tuple[int, str] | None:
    ordered = [c for c in candidates if c[1] not in AVOID] + [c for c in candidates if c[1] in AVOID]
    if mode is not FridaMode.LOCAL:
        return ordered[0] if ordered else None
    try:  # the local device sees this machine's processes: only an app's own JVM will do
        names = {p.pid: p.name for p in resolved.device.enumerate_processes(pids=[c[0] for c in ordered])}
    except _ERRORS:
        return None
    return next((c for c in ordered if names.get(c[0]) == c[1]), None)


def _attach(device: Any, pid: int) -> Any:
    """A session in `pid`; an attach that timed out is tried again (the last error stands)."""
    for _ in range(ATTACH_TRIES - 1):
        try:
            return device.attach(pid)
        except frida.TimedOutError:
            continue
    return device.attach(pid)


def _probe(device: Any, pid: int, name: str, art: str) -> Check:
    where = f"{name} (pid {pid})" + (f" on {art}" if art else "")
    try:
        session = _attach(device, pid)
    except _ERRORS as e:
        return Check("java bridge", Status.FAIL, f"Frida cannot attach to {where}: {e}", FIX)
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            source = java_bridge_path().read_text(encoding="utf-8") + PROBE_AGENT.read_text(encoding="utf-8")
            script = session.create_script(source, name="lab-doctor-java")
            script.load()
            outcome["result"] = script.exports_sync.probe()
        except (*_ERRORS, InstrumentError, OSError) as e:
            outcome["error"] = e

    worker = threading.Thread(target=call, name="doctor-java-probe", daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    try:
        session.detach()
    except _ERRORS:
        pass  # the process went away: nothing left attached
    if worker.is_alive():
        return Check("java bridge", Status.FAIL, f"the Java bridge did not answer within {TIMEOUT:.0f} s in "
                     f"{where}", FIX)
    if "error" in outcome:
        return Check("java bridge", Status.FAIL, f"the Java bridge failed in {where}: {outcome['error']}", FIX)
    result = outcome.get("result") or {}
    if not result.get("available"):
        return Check("java bridge", Status.FAIL, f"Java is not available to Frida in {where}", FIX)
    return passed("java bridge", f"Frida's Java bridge works in {where} ({result.get('vm', '?')}); detached",
                  pid=pid, process=name, vm=result.get("vm"))
