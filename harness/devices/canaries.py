"""Canaries: unique values planted on the handset so the scanner can spot them leaving.

Each value carries the lab's prefix and a per-run random suffix. Planting is journaled
(so restore removes exactly what was planted); what could not be planted is recorded with
the reason. canaries.json (docs/architecture.md) holds the planted values and the device
identifiers read at prepare time.
"""

from __future__ import annotations

import random
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from harness.config import CanaryConfig
from harness.devices.handset import Handset, RootMethod
from harness.devices.journal import Journal
from harness.devices.parsers import parse_broadcast_result, parse_content_rows
from harness.devices.shellquote import W, check_canary, check_int, check_text, cmd
from harness.errors import DeviceCommandError

CONTACTS_RAW = "content://com.android.contacts/raw_contacts"
CONTACTS_DATA = "content://com.android.contacts/data"
CONTACTS_DELETE = "content://com.android.contacts/raw_contacts?caller_is_syncadapter=true"
SMS_INBOX = "content://sms/inbox"
SMS = "content://sms"
SHELL_PKG = "com.android.shell"
MOCK_OP = "android:mock_location"
_APPOPS_MODE = re.compile(r"(?:MOCK_LOCATION|android:mock_location): (\w+)")


@dataclass
class CanaryRecord:
    planted: list[dict[str, Any]] = field(default_factory=list)
    not_planted: list[dict[str, str]] = field(default_factory=list)

    def skip(self, kind: str, reason: str) -> None:
        self.not_planted.append({"type": kind, "reason": reason})


def run_suffix() -> str:
    return secrets.token_hex(4).upper()


def _bind(column: str, kind: str, value: str | int) -> str:
    return f"{column}:{kind}:{value}"


def _row_id(handset: Handset, uri: str, where: str, *, root: bool = False) -> int | None:
    line = cmd(W("content"), W("query"), W("--uri"), W(uri), W("--projection"), W("_id"),
               W("--where"), where)
    out = (handset.su if root else handset.sh)(line, check=False).stdout
    rows = parse_content_rows(out)
    ids = [int(r["_id"]) for r in rows if r.get("_id", "").isdigit()]
    return max(ids) if ids else None


def plant_contact(handset: Handset, journal: Journal, record: CanaryRecord, prefix: str,
                  suffix: str, index: int) -> None:
    name = check_canary(f"{prefix} {suffix} Contact{index}")
    number = "+1555" + "".join(str(random.SystemRandom().randrange(10)) for _ in range(7))
    email = check_canary(f"{prefix.lower()}.{suffix.lower()}.c{index}@example.com")
    marker = check_canary(f"{prefix}-{suffix}-c{index}")
    entry = journal.begin("canary_contact", marker=marker, raw_contact_id=None)
    result = handset.sh(cmd(W("content"), W("insert"), W("--uri"), W(CONTACTS_RAW),
                            W("--bind"), _bind("account_type", "s", ""),
                            W("--bind"), _bind("account_name", "s", ""),
                            W("--bind"), _bind("sourceid", "s", marker)), check=False)
    raw_id = _row_id(handset, CONTACTS_RAW, f"sourceid='{marker}'") if result.ok else None
    if raw_id is None:
        journal.drop(entry)
        record.skip("contact", f"contacts provider refused the insert: {result.output.strip()[:200]}")
        return
    entry.undo["raw_contact_id"] = raw_id
    journal.save()
    rows = [("vnd.android.cursor.item/name", name), ("vnd.android.cursor.item/phone_v2", number),
            ("vnd.android.cursor.item/email_v2", email)]
    for mimetype, value in rows:
        handset.sh(cmd(W("content"), W("insert"), W("--uri"), W(CONTACTS_DATA),
                       W("--bind"), _bind("raw_contact_id", "i", check_int(raw_id, 0)),
                       W("--bind"), _bind("mimetype", "s", mimetype),
                       W("--bind"), _bind("data1", "s", value)))
    journal.done(entry)
    record.planted.append({"type": "contact", "id": f"contact-{index}", "value": name,
                           "phone": number, "email": email, "raw_contact_id": raw_id})


def plant_sms(handset: Handset, journal: Journal, record: CanaryRecord, prefix: str, suffix: str) -> None:
    if handset.root == RootMethod.NONE:
        record.skip("sms", "only the default SMS app (or root) may write the SMS provider; not rooted")
        return
    body = check_canary(f"{prefix} {suffix} SMS one-time code {secrets.randbelow(900000) + 100000}")
    address = "+1555" + "".join(str(random.SystemRandom().randrange(10)) for _ in range(7))
    entry = journal.begin("canary_sms", body=body, sms_id=None)
    result = handset.su(cmd(W("content"), W("insert"), W("--uri"), W(SMS_INBOX),
                            W("--bind"), _bind("address", "s", address),
                            W("--bind"), _bind("body", "s", body),
                            W("--bind"), _bind("date", "l", int(time.time() * 1000)),
                            W("--bind"), _bind("read", "i", 1)), check=False)
    sms_id = _row_id(handset, SMS, f"body='{body}'", root=True) if result.ok else None
    if sms_id is None:
        journal.drop(entry)
        record.skip("sms", f"SMS provider refused the insert: {result.output.strip()[:200]}")
        return
    journal.done(entry, sms_id=sms_id)
    record.planted.append({"type": "sms", "id": "sms-1", "value": body, "address": address,
                           "sms_id": sms_id})


def plant_clipboard(handset: Handset, journal: Journal, record: CanaryRecord, prefix: str,
                    suffix: str) -> None:
    value = check_canary(f"{prefix} {suffix} clipboard")
    code, previous = parse_broadcast_result(
        handset.sh(cmd(W("am"), W("broadcast"), W("-a"), W("clipper.get")), check=False).output)
    if code != -1:
        record.skip("clipboard", "no clipboard helper (Clipper, `am broadcast -a clipper.set`) on the handset")
        return
    entry = journal.begin("canary_clipboard", previous=previous)
    out = handset.sh(cmd(W("am"), W("broadcast"), W("-a"), W("clipper.set"), W("-e"), W("text"), value),
                     check=False).output
    if parse_broadcast_result(out)[0] != -1:
        journal.drop(entry)
        record.skip("clipboard", f"clipper.set did not answer: {out.strip()[:200]}")
        return
    journal.done(entry)
    record.planted.append({"type": "clipboard", "id": "clipboard-1", "value": value})


def appops_mode(text: str) -> str:
    match = _APPOPS_MODE.search(text)
    return match.group(1) if match else "default"


def plant_location(handset: Handset, journal: Journal, record: CanaryRecord, lat: float,
                   lon: float) -> None:
    rng = random.SystemRandom()
    lat = round(min(89.9, max(-89.9, lat + rng.uniform(-0.001, 0.001))), 6)
    lon = round(min(179.9, max(-179.9, lon + rng.uniform(-0.001, 0.001))), 6)
    problem = set_test_location(handset, journal, lat, lon)
    if problem is not None:
        record.skip("location", problem)
        return
    record.planted.append({"type": "location", "id": "location-1", "value": f"{lat:.6f},{lon:.6f}",
                           "lat": lat, "lon": lon})


def replant_location(handset: Handset, journal: Journal, planted: list[dict]) -> str | None:
    """After a reboot: the location service keeps test providers in memory only, so the
    planted location is gone; set it again, same value, so canaries.json still matches
    what the apps read. A problem is returned as text (the run goes on without it)."""
    for item in planted:
        if item.get("type") == "location":
            return set_test_location(handset, journal, float(item["lat"]), float(item["lon"]))
    return None


def set_test_location(handset: Handset, journal: Journal, lat: float, lon: float) -> str | None:
    """The `gps` test provider at (lat, lon), journaled; None, or why it could not be set."""
    before = handset.sh(cmd(W("appops"), W("get"), W(SHELL_PKG), W(MOCK_OP)), check=False)
    if not before.ok:
        return f"appops unavailable: {before.output.strip()[:200]}"
    entry = journal.begin("canary_location", appops_previous=appops_mode(before.stdout), provider="gps")
    steps = [
        cmd(W("appops"), W("set"), W(SHELL_PKG), W(MOCK_OP), W("allow")),
        cmd(W("cmd"), W("location"), W("providers"), W("add-test-provider"), W("gps")),
        cmd(W("cmd"), W("location"), W("providers"), W("set-test-provider-enabled"), W("gps"), W("true")),
        cmd(W("cmd"), W("location"), W("providers"), W("set-test-provider-location"), W("gps"),
            W("--location"), f"{lat:.6f},{lon:.6f}"),
    ]
    for line in steps:
        result = handset.sh(line, check=False)
        if not result.ok:
            journal.done(entry)  # partly applied: restore undoes it
            return f"`{line}` failed: {result.output.strip()[:200]}"
    journal.done(entry)
    return None


def plant_all(handset: Handset, journal: Journal, config: CanaryConfig, suffix: str) -> CanaryRecord:
    record = CanaryRecord()
    for index in range(1, config.contacts + 1):
        plant_contact(handset, journal, record, config.prefix, suffix, index)
    if config.sms:
        plant_sms(handset, journal, record, config.prefix, suffix)
    if config.clipboard:
        plant_clipboard(handset, journal, record, config.prefix, suffix)
    if config.location is not None:
        plant_location(handset, journal, record, config.location.lat, config.location.lon)
    if config.account:
        record.skip("account", "Android offers no shell command that adds an account without "
                               "the account type's authenticator app")
    return record


# --- undo ----------------------------------------------------------------------------


def undo_contact(handset: Handset, undo: dict) -> None:
    """Delete the data rows, then the raw contact as a sync adapter (a hard delete; a plain
    delete only marks it deleted=1). A provider that rejects the query parameter gets the
    plain URI."""
    raw_id = undo.get("raw_contact_id")
    if raw_id is None:
        raw_id = _row_id(handset, CONTACTS_RAW, f"sourceid='{check_canary(undo['marker'])}'")
    if raw_id is None:
        return
    raw_id = check_int(int(raw_id), 0)
    handset.sh(cmd(W("content"), W("delete"), W("--uri"), W(CONTACTS_DATA),
                   W("--where"), f"raw_contact_id={raw_id}"))
    result = handset.sh(cmd(W("content"), W("delete"), W("--uri"), W(CONTACTS_DELETE),
                            W("--where"), f"_id={raw_id}"), check=False)
    if not result.ok and "Unknown URL" in result.output:
        result = handset.sh(cmd(W("content"), W("delete"), W("--uri"), W(CONTACTS_RAW),
                                W("--where"), f"_id={raw_id}"), check=False)
    if not result.ok:
        raise DeviceCommandError(f"deleting canary contact {raw_id} failed: {result.output.strip()[:300]}",
                                 output=result.output, exit_status=result.exit_status)


def undo_sms(handset: Handset, undo: dict) -> None:
    sms_id = undo.get("sms_id")
    if sms_id is None:
        sms_id = _row_id(handset, SMS, f"body='{check_canary(undo['body'])}'", root=True)
    if sms_id is None:
        return
    handset.su(cmd(W("content"), W("delete"), W("--uri"), W(SMS), W("--where"),
                   f"_id={check_int(int(sms_id), 0)}"))


def undo_clipboard(handset: Handset, undo: dict) -> None:
    previous = undo.get("previous")
    value = check_text(previous) if previous else ""
    out = handset.sh(cmd(W("am"), W("broadcast"), W("-a"), W("clipper.set"), W("-e"), W("text"), value),
                     check=False).output
    if parse_broadcast_result(out)[0] not in (-1, None):
        raise DeviceCommandError(f"clipper.set did not restore the clipboard: {out.strip()[:200]}")


def undo_location(handset: Handset, undo: dict) -> None:
    handset.sh(cmd(W("cmd"), W("location"), W("providers"), W("remove-test-provider"), W("gps")), check=False)
    mode = undo.get("appops_previous") or "default"
    if mode not in ("allow", "ignore", "deny", "default", "foreground", "errored"):
        mode = "default"
    handset.sh(cmd(W("appops"), W("set"), W(SHELL_PKG), W(MOCK_OP), W(mode)))
