"""Prepare a handset for a run, journaling every change before making it.

Order: DeviceInfo and identifiers (read only), then the CA, proxy + reverse forward (no
client goes through the proxy before it can trust it), the profile's apps (install,
grant/revoke), frida-server, canaries. A handset lost midway raises DeviceLostError
naming what was done; its journal stays for `lab restore`. Any other failure undoes what
was done so far, then re-raises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture import CANARIES_JSON, make_private_dir, write_json_atomic
from harness.config import DeviceEntry, FridaMode, LabConfig, Profile
from harness.devices import apps
from harness.devices.ca import SYSTEM_METHODS, CaMethod, install_ca
from harness.devices.canaries import CanaryRecord, plant_all, replant_location, run_suffix
from harness.devices.frida_server import ensure_frida_server, restart_frida_server
from harness.devices.handset import Handset
from harness.devices.identifiers import Identifiers, read_identifiers
from harness.devices.info import DeviceInfo
from harness.devices.journal import Journal, JournalStatus, pending_journals, sanitise_serial
from harness.devices.proxy_setting import ensure_reverse, set_proxy
from harness.devices.restore import restore
from harness.errors import DeviceError, DeviceLostError, HarnessError


@dataclass
class Prepared:
    journal: Journal
    info: DeviceInfo
    identifiers: Identifiers
    canaries: CanaryRecord = field(default_factory=CanaryRecord)
    ca_method: CaMethod | None = None
    frida_server_version: str | None = None
    canaries_path: Path | None = None

    def canaries_json(self) -> dict[str, Any]:
        return {
            "device": self.info.serial,
            "created": time.time(),
            **self.identifiers.as_dict(),
            "planted": list(self.canaries.planted),
            "not_planted": list(self.canaries.not_planted),
        }


def device_entry(lab: LabConfig, serial: str, requested: str | None = None) -> DeviceEntry | None:
    for entry in lab.devices:
        if entry.serial in (serial, requested):
            return entry
    return None


def prepare(
    handset: Handset,
    lab: LabConfig,
    profile: Profile | None = None,
    proxy_port: int | None = None,
    ca_pem: bytes | None = None,
    capture_dir: Path | None = None,
    *,
    entry: DeviceEntry | None = None,
    ca_store: str = "auto",
    canaries: bool = True,
    frida: bool = True,
) -> Prepared:
    """Prepare `handset`; returns what was done, with the journal to restore from."""
    if pending_journals(lab.state_dir, handset.serial):
        raise DeviceError(
            f"handset {handset.serial} has a journal that was never restored; "
            f"run `lab restore --device {handset.serial}` first"
        )
    info: DeviceInfo = handset.info
    journal = Journal.create(handset.serial, lab.state_dir, capture_dir,
                             device={**info.as_dict(), **_virtual_name(handset)})
    prepared = Prepared(journal=journal, info=info, identifiers=Identifiers({}, {}))
    try:
        _steps(prepared, handset, lab, profile, proxy_port, ca_pem, capture_dir, entry, ca_store,
               canaries, frida)
    except DeviceLostError as e:
        journal.note(f"handset lost during prepare: {e}")
        raise DeviceLostError(
            f"{e}; prepare had {journal.summary()}; journal {journal.paths[0]} kept for "
            f"`lab restore --device {handset.serial}`"
        ) from e
    except (HarnessError, KeyboardInterrupt) as e:
        journal.note(f"prepare failed: {e}")
        try:
            restore(handset, journal)
        except DeviceError as undo_error:
            raise DeviceError(f"{e}; undoing prepare also failed: {undo_error}") from e
        raise
    journal.set_status(JournalStatus.PREPARED)
    return prepared


def _virtual_name(handset: Handset) -> dict[str, str]:
    """{"virtual": NAME} for a virtual handset started as virtual:NAME: `lab restore
    --device virtual:NAME` finds its journal by it."""
    name = (getattr(handset.virtual, "ready", None) or {}).get("handset")
    return {"virtual": str(name)} if name else {}


def _steps(prepared: Prepared, handset: Handset, lab: LabConfig, profile: Profile | None,
           proxy_port: int | None, ca_pem: bytes | None, capture_dir: Path | None,
           entry: DeviceEntry | None, ca_store: str, canaries: bool, frida: bool) -> None:
    journal, info = prepared.journal, prepared.info
    prepared.identifiers = read_identifiers(handset, info.sdk, info.rooted)
    # the CA before the proxy: a connection made in between would go through a proxy its
    # client does not trust yet, and be recorded as refused (tls_rejected: pinning?)
    if ca_pem is not None:
        prepared.ca_method = install_ca(handset, journal, ca_pem, info.sdk, ca_store)
    if proxy_port is not None:
        set_proxy(handset, journal, proxy_port)
    for target in profile.apps if profile else []:
        if target.apk is not None and not apps.is_installed(handset, target.package):
            step = journal.begin("install", package=target.package)
            apps.install(handset, target.apk)
            journal.done(step)
        apps.set_permissions(handset, journal, target.package, list(target.grant), list(target.revoke))
    virtual = handset.virtual is not None or (entry is not None and entry.frida == FridaMode.LOCAL)
    if frida:
        prepared.frida_server_version = ensure_frida_server(
            handset, journal, entry.frida_server if entry else None, info.abi, virtual=virtual)
    if canaries:
        prepared.canaries = plant_all(handset, journal, lab.canaries, run_suffix())
    prepared.canaries_path = _write_canaries(prepared, lab, capture_dir)


def _write_canaries(prepared: Prepared, lab: LabConfig, capture_dir: Path | None) -> Path:
    if capture_dir is not None:
        path = Path(capture_dir) / CANARIES_JSON
    else:
        folder = make_private_dir(Path(lab.state_dir) / "canaries")
        path = folder / f"{sanitise_serial(prepared.info.serial)}.json"
    write_json_atomic(path, prepared.canaries_json())
    return path


def after_reboot(handset: Handset, prepared: Prepared, proxy_port: int | None = None,
                 ca_pem: bytes | None = None) -> list[str]:
    """Re-apply what a reboot dropped (CA mounts, reverse forward, frida-server, the test
    location provider of the location canary), journaled; returns notes for the step."""
    journal = prepared.journal
    try:
        if ca_pem is not None and prepared.ca_method in SYSTEM_METHODS:  # the CA first, as in prepare
            install_ca(handset, journal, ca_pem, prepared.info.sdk)
        if proxy_port is not None:
            ensure_reverse(handset, journal, proxy_port)
        if prepared.frida_server_version is not None:
            restart_frida_server(handset, journal, prepared.frida_server_version)
        problem = replant_location(handset, journal, prepared.canaries.planted)
    except DeviceLostError as e:
        raise DeviceLostError(f"{e}; after the reboot: {journal.summary()}") from e
    return [] if problem is None else [f"location canary not planted again: {problem}"]
