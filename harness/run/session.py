"""One handset's run session: the handset, its proxy, its journal, its Frida hooks.

`open()` and `prepare()` bring them up in order; `close()` takes them down in reverse,
always, collecting (not raising) teardown errors so that restore runs even when the
proxy or Frida failed, and nothing captured is lost.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from harness.capture import CANARIES_JSON, ZONE_JSON
from harness.config import DeviceEntry, FridaMode, LabConfig, NetworkMode, Profile
from harness.config.profile import needs_screen
from harness.config.proxy import CaptureMode
from harness.devices import (
    Handset,
    Prepared,
    after_reboot,
    apps,
    device_entry,
    open_device,
    prepare,
    restore,
    wireguard,
)
from harness.errors import DeviceError, HarnessError, InstrumentError, PreflightError
from harness.instrument import Instrumentation
from harness.proxy.master import Proxy
from harness.run.capture_choice import resolve_capture_mode
from harness.run.doctor import preflight
from harness.run.technician import NOBODY, Technician
from harness.run.timeline import Timeline

log = logging.getLogger(__name__)

ATTACH_TRIES = 3
TUNNEL_NAME = "lab"  # the tunnel's name in the handset's WireGuard app
TUNNEL_PROBE_SECONDS = 30.0  # a tunnel that is up carries some flow by then (DNS, a heartbeat)
TECHNICIAN_SECONDS = 300.0  # an unrooted handset: the technician scans the tunnel's QR code meanwhile


def lab_for_handset(lab: LabConfig, virtual: bool) -> LabConfig:
    """A virtual handset lives in the lab's contained network: its hosts exist nowhere else."""
    if not virtual or lab.proxy.network == NetworkMode.CONTAINED:
        return lab
    return lab.model_copy(update={"proxy": lab.proxy.model_copy(update={"network": NetworkMode.CONTAINED})})


class HandsetSession:
    def __init__(self, lab: LabConfig, profile: Profile, serial: str, run_dir: Path, timeline: Timeline,
                 doctor: bool = True, technician: Technician = NOBODY, stop: threading.Event | None = None):
        self.doctor = doctor  # the quick pre-flight checks before anything changes (run/doctor.py)
        self.technician = technician  # imports the tunnel on an unrooted handset (a QR code)
        self.stop = stop or threading.Event()
        self.lab = lab
        self.profile = profile
        self.requested = serial
        self.serial = serial
        self.run_dir = run_dir
        self.timeline = timeline
        self.handset: Handset | None = None  # type: ignore[assignment]
        self.entry: DeviceEntry | None = None
        self.proxy: Proxy | None = None
        self.prepared: Prepared | None = None
        self.instrumentation: Instrumentation | None = None
        self._ca_pem: bytes | None = None
        self._hooked: dict[str, int] = {}
        self._lock = threading.Lock()
        self._info: dict[str, Any] | None = None
        self.capture_reason: str | None = None  # why this capture mode (lab.yaml, or auto resolved)

    # --- bring-up ---------------------------------------------------------------------

    def open(self) -> None:
        self.handset = open_device(self.requested, self.lab)
        self.serial = self.handset.serial
        self.entry = device_entry(self.lab, self.serial, self.requested)
        self._info = self.handset.info.as_dict()
        if self.doctor:
            self.preflight()

    def preflight(self) -> None:
        """`lab doctor`'s quick checks, kept in run.json's events; PreflightError (the run stops
        before anything on the handset changes) when one fails."""
        assert self.handset is not None
        report = preflight(self.handset, self.lab, self.entry,
                           screen_used=any(needs_screen(step) for step in self.profile.steps))
        self.timeline.event("doctor", status=report.status.value, checks=[c.as_dict() for c in report.checks])
        if report.failed:
            raise PreflightError("lab doctor: " + " / ".join(
                f"{c.name}: {c.summary}" + (f" (fix: {c.fix})" if c.fix else "") for c in report.failed)
                + "; `lab run --skip-doctor` runs anyway")

    @property
    def is_virtual(self) -> bool:
        return self.handset is not None and self.handset.virtual is not None

    @property
    def can_spawn(self) -> bool:
        return self.instrumentation is not None and self.instrumentation.mode is not FridaMode.LOCAL

    def prepare(self) -> None:
        assert self.handset is not None
        lab = lab_for_handset(self.lab, self.is_virtual)
        zone = getattr(self.handset.virtual, "zone_path", None) if self.is_virtual else lab.proxy.zone
        if zone is not None and Path(zone).is_file():
            shutil.copyfile(zone, self.run_dir / ZONE_JSON)
            (self.run_dir / ZONE_JSON).chmod(0o600)
        mode, self.capture_reason = resolve_capture_mode(self.handset, lab, self.is_virtual)
        self.proxy = Proxy(lab, capture_dir=self.run_dir, device=self.serial,
                           canaries=None, zone=Path(zone) if zone else None, mode=mode).start()
        self._ca_pem = self.proxy.ca_cert_path.read_bytes()  # intercepted TLS needs the CA in both modes
        self.prepared = prepare(self.handset, self.lab, self.profile, self.proxy_port, self._ca_pem,
                                self.run_dir, entry=self.entry)
        if self.full_capture:
            self.tunnel_up()
        ids = self.prepared.identifiers  # run.json says which identifier matches were impossible
        self._info = {**(self._info or {}), "identifiers_missing": dict(ids.missing),
                      "identifiers_source": dict(ids.sources)}
        self.proxy.set_canaries(self.run_dir / CANARIES_JSON)
        frida_mode: DeviceEntry | FridaMode = FridaMode.LOCAL if self.is_virtual else (
            self.entry or FridaMode.USB)
        self.instrumentation = Instrumentation(
            frida_mode, self.serial, self.run_dir, [h.value for h in self.profile.hooks],
            self.profile.unpin,
        )
        self.hook_profile_apps([])

    @property
    def full_capture(self) -> bool:
        return self.proxy is not None and self.proxy.mode == CaptureMode.WIREGUARD

    @property
    def proxy_port(self) -> int | None:
        """The port the handset's proxy setting and adb reverse point at (None: WireGuard mode)."""
        return None if self.proxy is None or self.full_capture else self.proxy.port

    def tunnel_up(self, timeout: float | None = None) -> None:
        """Install the tunnel through the WireGuard app (journaled; on an unrooted handset the
        technician scans it as a QR code), then wait until the proxy has recorded a flow that
        came through it: the profile starts on a tunnel that carries traffic, or not at all
        (DeviceError naming the fix)."""
        assert self.handset is not None and self.prepared is not None and self.proxy is not None
        timeout = TUNNEL_PROBE_SECONDS if timeout is None else timeout
        tunnel = self.proxy.tunnel
        before = self.proxy.stats.snapshot()["flows"]
        wireguard.set_up(self.handset, self.prepared.journal, TUNNEL_NAME, tunnel.wg_quick(), show=self._show_tunnel)
        started = time.monotonic()
        while self.proxy.stats.snapshot()["flows"] == before:
            if time.monotonic() - started > timeout:
                raise DeviceError(
                    f"{self.serial}: the WireGuard tunnel {TUNNEL_NAME!r} carried no traffic to the proxy "
                    f"({tunnel.endpoint}) within {timeout:.0f} s: check that the WireGuard app shows it "
                    "on and that the handset reaches that address (a phone needs proxy.wireguard_interface "
                    "and client_allowlist in lab.yaml), or set proxy.mode: explicit")
            time.sleep(0.2)
        seconds = round(time.monotonic() - started, 2)
        self.timeline.event("wireguard_tunnel", name=TUNNEL_NAME, endpoint=tunnel.endpoint, up_after=seconds)

    def _show_tunnel(self, qr_text: str) -> bool:
        """An unrooted handset: the technician imports the tunnel from its QR code and switches
        it on; unconfirmed, the run stops here (DeviceError with the reason and the fix)."""
        answer = self.technician.ask(qr_text, TECHNICIAN_SECONDS, self.stop)
        self.timeline.event("wireguard_technician", name=TUNNEL_NAME, confirmed=answer.confirmed,
                            asked=answer.asked, answered=answer.answered, reason=answer.reason)
        if not answer.confirmed:
            raise DeviceError(
                f"{self.serial}: unrooted handset: the WireGuard tunnel {TUNNEL_NAME!r} is imported by the "
                f"technician from a QR code, and was not ({answer.reason}): run `lab run` on a terminal "
                "at the handset without --yes, or set proxy.mode: explicit")
        return True

    # --- hooks ---------------------------------------------------------------------------

    def hook_running(self, package: str, notes: list[Any]) -> None:
        """Attach the hooks to the app's current process, if not attached already."""
        assert self.handset is not None
        pids = apps.wait_running(self.handset, package)
        if not pids or self.instrumentation is None:
            notes.append(f"{package}: no process to instrument")
            return
        pid = pids[0]
        with self._lock:
            if self._hooked.get(package) == pid:
                return
        info = None
        for attempt in range(1, ATTACH_TRIES + 1):
            try:
                info = self.instrumentation.attach(package, pid)
                break
            except InstrumentError as e:  # a loaded machine can time out an attach: retry
                if attempt == ATTACH_TRIES or not apps.pidof(self.handset, package):
                    notes.append(f"{package}: hooks not attached: {e}")
                    self.timeline.event("hooks_failed", package=package, pid=pid, error=str(e))
                    return
        assert info is not None
        with self._lock:
            self._hooked[package] = pid
        notes.append(f"{package}: hooks {','.join(info.parts)} attached to pid {pid}")

    def spawn(self, package: str, notes: list[Any]) -> None:
        assert self.instrumentation is not None
        info = self.instrumentation.spawn(package)
        with self._lock:
            self._hooked[package] = info.pid
        notes.append(f"{package}: spawned with hooks, pid {info.pid}")

    def unhook(self, package: str) -> None:
        with self._lock:
            attached = self._hooked.pop(package, None)
        if attached is not None and self.instrumentation is not None:
            try:
                self.instrumentation.detach(package)
            except InstrumentError as e:
                log.debug("detach %s: %s", package, e)

    def reboot(self, notes: list[Any]) -> None:
        """Reboot, then re-apply what a reboot drops (reverse forward, CA mounts, frida-server)."""
        assert self.handset is not None and self.prepared is not None
        for package in list(self._hooked):
            self.unhook(package)
        seconds = self.handset.reboot()
        problems = after_reboot(self.handset, self.prepared, self.proxy_port, self._ca_pem)
        notes.append(f"rebooted in {seconds:.1f}s; " + (
            "CA re-applied (always-on VPN brings the tunnel back)" if self.full_capture
            else "proxy forward and CA re-applied"))
        notes.extend(problems)
        self.hook_profile_apps(notes)

    def hook_profile_apps(self, notes: list[Any]) -> None:
        """Hook the profile's apps that are running now (firmware services start on their own)."""
        assert self.handset is not None
        for target in self.profile.apps:
            if apps.pidof(self.handset, target.package):
                self.hook_running(target.package, notes)

    # --- numbers -------------------------------------------------------------------------

    def counters(self) -> tuple[int, int, int]:
        flows = findings = hooks = 0
        if self.proxy is not None:
            snap = self.proxy.stats.snapshot()
            flows, findings = snap["flows"], snap["findings"]
        if self.instrumentation is not None:
            hooks = self.instrumentation.stats.records
        return flows, findings, hooks

    def final_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.proxy is not None:
            counts.update(self.proxy.stats.snapshot())
        if self.instrumentation is not None:
            stats = self.instrumentation.stats
            counts.update(hooks=stats.records, hooks_dropped=stats.dropped)
        return counts

    def device_info(self) -> dict[str, Any] | None:
        return self._info

    def proxy_info(self) -> dict[str, Any] | None:
        """Where and how the proxy listened (mode, WireGuard endpoint, block_quic): analysis
        tells proxied from bypassing connects by it."""
        if self.proxy is None:
            return None
        return {**self.proxy.run_info(), "configured_mode": self.lab.proxy.mode.value,
                "mode_reason": self.capture_reason}

    def capture_line(self) -> str | None:
        """The capture mode and why, for the run's console line (None before the proxy ran)."""
        if self.proxy is None:
            return None
        return f"{self.proxy.mode.value} capture: {self.capture_reason}"

    # --- teardown --------------------------------------------------------------------------

    def close(self) -> list[str]:
        """Detach hooks, restore the handset, stop the proxy; return what went wrong."""
        errors: list[str] = []
        if self.instrumentation is not None:
            try:
                self.instrumentation.close()
            except HarnessError as e:
                errors.append(f"instrumentation teardown: {e}")
        if self.prepared is not None and self.handset is not None:
            try:
                restore(self.handset, self.prepared.journal)
            except DeviceError as e:
                errors.append(f"restore failed (journal kept for `lab restore {self.serial}`): {e}")
        if self.proxy is not None:
            try:
                self.proxy.stop()
            except HarnessError as e:
                errors.append(f"proxy shutdown: {e}")
        if self.handset is not None:
            try:
                self.handset.close()
            except DeviceError as e:
                errors.append(f"closing handset: {e}")
        return errors
