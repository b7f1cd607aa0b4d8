"""`lab doctor` and the pre-flight of `lab run`: one handset's checks, in order.

`diagnose(requested, lab)` opens the handset (a virtual:NAME starts it; one the adb
server lists as unauthorized or offline is a failed `adb` check, not an error) and runs
every check: the quick ones (devices/doctor.py), then those that try the real thing and
undo it, journaled like a run (a kill -9 leaves a journal for `lab restore`): the Java
bridge in an app (frida-server started for it on a real phone if none runs), a probe CA
in the apps' mount namespaces, and the capture path of the mode a run would use
(run/capture_choice.py): a request from the handset through adb reverse (explicit), or
through a probe WireGuard tunnel to a probe proxy (run/tunnel_probe.py).
`preflight(handset, lab, entry)` is the quick subset `lab run` runs before it prepares;
a failure stops the run with the doctor's message (PreflightError).
"""

from __future__ import annotations

import frida
from adbutils import AdbClient

from harness.config import DeviceEntry, FridaMode, LabConfig
from harness.config.proxy import CaptureMode
from harness.devices import adb_client, attached, device_entry, open_device
from harness.devices.ca_probe import FIRST_APPLICATION_UID, check_ca, parse_processes
from harness.devices.capture_probe import check_capture_path
from harness.devices.choice import choose_serial
from harness.devices.doctor import (
    Check,
    Report,
    Status,
    check_adb,
    check_clock,
    check_frida_server,
    check_journal,
    check_root,
    check_screen,
    check_selinux,
    check_storage,
)
from harness.devices.frida_server import ensure_frida_server, running_pids
from harness.devices.handset import Handset
from harness.devices.journal import Journal
from harness.devices.restore import restore
from harness.devices.shellquote import W, cmd
from harness.devices.virtual_launch import is_virtual
from harness.errors import (
    DeviceError,
    DeviceLostError,
    DeviceNotFoundError,
    DeviceOfflineError,
    InstrumentError,
)
from harness.instrument.bridge_probe import check_java_bridge
from harness.run.capture_choice import resolve_capture_mode
from harness.run.tunnel_probe import NAME as TUNNEL_CHECK
from harness.run.tunnel_probe import check_tunnel


def _local(handset: Handset, entry: DeviceEntry | None) -> bool:
    return handset.virtual is not None or (entry is not None and entry.frida == FridaMode.LOCAL)


def quick_checks(handset: Handset, lab: LabConfig, entry: DeviceEntry | None, *, quick: bool) -> list[Check]:
    """The checks that take a few shell commands each, in report order."""
    configured = entry.frida_server if entry else None
    return [
        check_adb(handset.serial, "device"),
        check_journal(lab.state_dir, handset.serial),
        check_root(handset),
        check_selinux(handset),
        *check_frida_server(handset, configured, frida.__version__, local=_local(handset, entry), quick=quick),
        check_clock(handset),
        check_screen(handset),
        check_storage(handset),
    ]


def preflight(handset: Handset, lab: LabConfig, entry: DeviceEntry | None, *, screen_used: bool = True) -> Report:
    """What `lab run` checks before it changes anything on the handset. A profile whose
    steps never act on the screen (idle, reboot, switches by shell command) runs on a
    locked or dark one, as a phone lies in a drawer: its screen check only warns."""
    checks = quick_checks(handset, lab, entry, quick=True)
    if not screen_used:
        checks = [_screen_unused(c) if c.name == "screen" and c.status is Status.FAIL else c for c in checks]
    return Report(handset.serial, tuple(checks), _device(handset))


def _screen_unused(check: Check) -> Check:
    return Check(check.name, Status.WARN, check.summary.split(":")[0] + ": no step of this profile needs the screen",
                 check.fix, check.details)


def diagnose(requested: str | None, lab: LabConfig, client: AdbClient | None = None) -> Report:
    """Every check of the handset `requested` (a serial, virtual:NAME, or None: the only one)."""
    client = client or adb_client()
    opened = _open(requested, lab, client)
    if isinstance(opened, Report):
        return opened
    handset = opened
    try:
        entry = device_entry(lab, handset.serial, requested)
        checks = quick_checks(handset, lab, entry, quick=False)
        at = next(i for i, c in enumerate(checks) if c.name == "clock")  # after frida-server's
        checks[at:at] = _tries(handset, lab, entry, checks)
        return Report(handset.serial, tuple(checks), _device(handset))
    finally:
        handset.close()


def _open(requested: str | None, lab: LabConfig, client: AdbClient) -> Handset | Report:
    """The handset, or a report whose adb check says why no command can reach it."""
    if requested and is_virtual(requested):
        try:
            return open_device(requested, lab, client)
        except DeviceOfflineError as e:
            state = "unauthorized" if "unauthorized" in str(e) else "offline"
            return Report(requested, (check_adb(requested, state, str(e)),))
    try:
        serial = choose_serial(requested, client)
    except DeviceOfflineError:
        found = {a.serial: a for a in attached(client)}
        serial = requested or next(iter(found), "")
        state = found[serial].state if serial in found else None
        return Report(serial, (check_adb(serial, state),))
    except DeviceNotFoundError as e:
        return Report(requested or "", (check_adb(requested or "(none)", None, str(e)),))
    return open_device(serial, lab, client)


def _device(handset: Handset) -> dict[str, object]:
    info = handset.info
    return {"model": f"{info.manufacturer} {info.model}".strip(), "android": info.android_release,
            "sdk": info.sdk, "abi": info.abi, "fingerprint": info.fingerprint,
            "art_version": getattr(info, "art_version", None)}


def _tries(handset: Handset, lab: LabConfig, entry: DeviceEntry | None, quick: list[Check]) -> list[Check]:
    """The checks that change the handset for a moment: the Java bridge, the CA, the capture path."""
    journal_ok = next(c for c in quick if c.name == "journal").status == Status.PASS
    if not journal_ok:
        why = "not tried: an earlier run's changes are not undone (see journal)"
        return [Check(name, Status.NOT_APPLICABLE, why) for name in ("java bridge", "ca", "capture path",
                                                                      TUNNEL_CHECK)]
    rows = parse_processes(handset.sh(cmd(W("ps"), W("-A"), W("-o"), W("PID,PPID,UID,NAME")), check=False).stdout)
    apps = [(p.pid, p.name) for p in rows if p.uid >= FIRST_APPLICATION_UID]
    checks = [_java_bridge(handset, lab, entry, apps, quick)]
    checks.append(check_ca(handset, _journal(handset, lab)))
    checks += _capture_path(handset, lab)
    return checks


def _capture_path(handset: Handset, lab: LabConfig) -> list[Check]:
    """The capture path a run would use on this handset, tried; the other not applicable."""
    virtual = handset.virtual is not None
    mode, why = resolve_capture_mode(handset, lab, virtual)
    if mode == CaptureMode.WIREGUARD:
        return [Check("capture path", Status.NOT_APPLICABLE, f"{why}: the handset's proxy setting is not used"),
                check_tunnel(handset, lab, _journal(handset, lab), virtual=virtual)]
    return [check_capture_path(handset, _journal(handset, lab)),
            Check(TUNNEL_CHECK, Status.NOT_APPLICABLE, why)]


def _journal(handset: Handset, lab: LabConfig) -> Journal:
    return Journal.create(handset.serial, lab.state_dir, device={**handset.info.as_dict(), "doctor": True})


def _java_bridge(handset: Handset, lab: LabConfig, entry: DeviceEntry | None, apps: list[tuple[int, str]],
                 quick: list[Check]) -> Check:
    art = " ".join(str(x) for x in (getattr(handset.info, "art_module", None),
                                    getattr(handset.info, "art_version", None)) if x)
    if _local(handset, entry):
        return check_java_bridge(handset.serial, FridaMode.LOCAL, apps, art)
    mode = entry.frida if entry else FridaMode.USB
    if running_pids(handset):
        return check_java_bridge(handset.serial, mode, apps, art)
    if any(c.name.startswith("frida-server") and c.status == Status.FAIL for c in quick):
        return Check("java bridge", Status.NOT_APPLICABLE, "not tried: no usable frida-server (see frida-server)")
    journal = _journal(handset, lab)  # start the one a run would start, for the probe only
    try:
        ensure_frida_server(handset, journal, entry.frida_server if entry else None, handset.info.abi,
                            virtual=False)
        return check_java_bridge(handset.serial, mode, apps, art)
    except InstrumentError as e:
        return Check("java bridge", Status.FAIL, f"frida-server could not be started for the probe: {e}",
                     "see frida-server")
    finally:
        try:
            restore(handset, journal)
        except DeviceLostError:
            raise
        except DeviceError:
            pass  # the journal stays pending: the next doctor's journal check names it
