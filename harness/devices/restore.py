"""Undo exactly what a journal says, newest change first, idempotently.

Works from a journal left by a killed process: `pending` entries are undone the same way
as `done` ones (every undo checks the current state first). Failed undo steps are kept
(state `failed`, with the error) and retried by the next restore; a handset lost in the
middle stops the restore with the journal saved. `lab restore` also stops the virtual
handsets a killed run left running (devices/virtual_runtime.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adbutils import AdbClient
from adbutils.errors import AdbError

from harness.devices.apps import undo_permission, uninstall
from harness.devices.ca import undo_ca
from harness.devices.canaries import undo_clipboard, undo_contact, undo_location, undo_sms
from harness.devices.choice import attached
from harness.devices.frida_server import undo_frida_server
from harness.devices.handset import Handset
from harness.devices.journal import EntryState, Journal, JournalStatus, iter_state_journals
from harness.devices.proxy_setting import undo_http_proxy, undo_reverse
from harness.devices.scenario import undo_switch
from harness.devices.virtual_launch import PREFIX, connect
from harness.devices.virtual_runtime import RuntimeFolder, orphans, stop_orphan
from harness.devices.wireguard import undo_appop, undo_setting, undo_settings, undo_tunnel, undo_up
from harness.errors import (
    CaptureError,
    DeviceCommandError,
    DeviceError,
    DeviceLostError,
    HarnessError,
)


def _undo_install(handset: Handset, undo: dict) -> None:
    uninstall(handset, undo["package"])


UNDO: dict[str, Callable[[Handset, dict], None]] = {
    "http_proxy": undo_http_proxy,
    "reverse": undo_reverse,
    "ca": undo_ca,
    "frida_server": undo_frida_server,
    "permission": undo_permission,
    "install": _undo_install,
    "canary_contact": undo_contact,
    "canary_sms": undo_sms,
    "canary_clipboard": undo_clipboard,
    "canary_location": undo_location,
    "switch": undo_switch,  # a scenario step's location / Wi-Fi / Bluetooth / airplane mode
    "wireguard_tunnel": undo_tunnel,  # full capture: the tunnel file in the WireGuard app
    "wireguard_settings": undo_settings,  # its "Allow remote control apps" (DataStore file)
    "wireguard_appop": undo_appop,  # VPN consent (ACTIVATE_VPN)
    "wireguard_setting": undo_setting,  # always_on_vpn_app / always_on_vpn_lockdown
    "wireguard_up": undo_up,  # the tunnel switched on
}


@dataclass
class RestoreResult:
    serial: str
    restored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    journal_paths: list[Path] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)  # PIDs of an orphan virtual handset and its JVMs
    removed: Path | None = None  # that handset's runtime folder, removed

    @property
    def ok(self) -> bool:
        return not self.failed


def restore(handset: Handset, journal: Journal) -> RestoreResult:
    """Undo the journal's changes on `handset`; raise DeviceCommandError if any undo failed."""
    result = RestoreResult(handset.serial, journal_paths=list(journal.paths))
    if journal.status == JournalStatus.RESTORED:
        return result
    journal.set_status(JournalStatus.RESTORING)
    for entry in reversed(journal.entries):
        if entry.state == EntryState.RESTORED:
            continue
        undo = UNDO.get(entry.kind)
        try:
            if undo is None:
                raise DeviceCommandError(f"unknown journal entry kind {entry.kind!r}")
            undo(handset, entry.undo)
        except DeviceLostError as e:
            journal.save()
            raise DeviceLostError(
                f"{e}; restore stopped, the journal stays for `lab restore --device {journal.serial}`"
            ) from e
        except (HarnessError, KeyError, TypeError, ValueError) as e:
            entry.state = EntryState.FAILED
            entry.error = f"{type(e).__name__}: {e}"
            result.failed.append(f"{entry.kind}: {e}")
        else:
            entry.state = EntryState.RESTORED
            entry.error = None
            result.restored.append(entry.kind)
        journal.save()
    journal.set_status(JournalStatus.RESTORED if result.ok else JournalStatus.INCOMPLETE)
    if not result.ok:
        raise DeviceCommandError(
            f"restore of {handset.serial} incomplete; failed: {'; '.join(result.failed)} "
            f"(journal {journal.paths[0]}; run `lab restore --device {journal.serial}` again)"
        )
    return result


def names(journal: Journal) -> set[str]:
    """How `lab restore --device` may name the journal's handset: its serial, and
    virtual:NAME for a virtual handset started as NAME."""
    virtual = journal.device.get("virtual")
    return {journal.serial, f"{PREFIX}{virtual}"} if virtual else {journal.serial}


def restore_pending(client: AdbClient, state_dir: Path, serial: str | None = None) -> list[RestoreResult]:
    """`lab restore [--device D]`: every pending journal in the lab state folder (or D's:
    a serial, or virtual:NAME). Then the virtual handsets whose lab process is gone (a
    killed run's) are stopped, with their JVMs, and their runtime folders removed: each
    once its journal, if it has one, is restored."""
    journals: list[Journal] = []
    errors: list[str] = []
    unrestored: set[str] = set()
    for path in iter_state_journals(state_dir):
        try:
            journal = Journal.load(path)
        except CaptureError as e:
            errors.append(f"{e} (left in place)")
            continue
        if journal.pending:
            unrestored.add(journal.serial)
        if journal.pending and (serial is None or serial in names(journal)):
            journals.append(journal)
    left = [o for o in orphans(state_dir) if serial is None or serial in {o.serial, f"{PREFIX}{o.handset}"}]
    if not journals and not errors and not left:
        return []
    present = {a.serial: a.state for a in attached(client)} if journals or left else {}
    errors += _reattach(client, left, present, unrestored)
    results: list[RestoreResult] = []
    for journal in journals:
        state = present.get(journal.serial)
        if state != "device":
            errors.append(f"{journal.serial}: {'not attached' if state is None else state}; "
                          f"journal {journal.paths[0]} kept")
            continue
        try:
            results.append(restore(Handset(client, journal.serial), journal))
        except DeviceError as e:
            errors.append(str(e))
        else:
            unrestored.discard(journal.serial)
    errors += _stop_orphans(client, left, unrestored, results)
    if errors:  # the handsets restored are named too: the error must not hide them
        done = [f"restored {r.serial}: {', '.join(r.restored) or 'nothing to undo'}" for r in results]
        raise DeviceError("; ".join(done + errors))
    return results


def _reattach(client: AdbClient, left: list[RuntimeFolder], present: dict[str, str],
              unrestored: set[str]) -> list[str]:
    """`adb connect` the orphan handsets with a journal to undo that the adb server lost."""
    errors = []
    for orphan in left:
        if (orphan.serial is None or orphan.serial not in unrestored or orphan.serial in present
                or not orphan.processes()[0]):
            continue
        try:
            connect(client, orphan.serial, timeout=15)
        except DeviceError as e:
            errors.append(str(e))
        else:
            present[orphan.serial] = "device"
    return errors


def _stop_orphans(client: AdbClient, left: list[RuntimeFolder], unrestored: set[str],
                  results: list[RestoreResult]) -> list[str]:
    """Stop each orphan handset whose journal is restored (or that has none), remove its folder."""
    errors = []
    by_serial = {r.serial: r for r in results}
    for orphan in left:
        name = orphan.serial or f"{PREFIX}{orphan.handset}"
        if orphan.serial in unrestored and orphan.processes()[1]:
            errors.append(f"virtual handset {name} left running until its journal is restored ({orphan.path})")
            continue
        try:
            stopped = stop_orphan(orphan)
        except DeviceError as e:
            errors.append(str(e))
            continue
        if orphan.serial:
            with contextlib.suppress(AdbError, OSError):  # the handset is gone either way
                client.disconnect(orphan.serial)
        result = by_serial.get(name)
        if result is None:
            result = by_serial[name] = RestoreResult(name)
            results.append(result)
        result.stopped, result.removed = stopped, orphan.path
    return errors
