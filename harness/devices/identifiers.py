"""Device identifiers read at prepare time (best effort: each one read says how, each one
missing says what was tried and why it gave nothing).

IMEI, IMSI, ICCID and the line 1 number come from `service call iphonesubinfo CODE s16
com.android.shell` (codes per release and Parcel replies: subinfo.py). A reply counts only
when it has the identifier's shape and is not an identifier already read (a wrong code can
answer another getter). When this release's code gives nothing, one more round trip tries:
the other releases' codes and the next code (vendor builds insert methods), the IMEI
properties some vendors set and `dumpsys iphonesubinfo` ("Device ID = ..." on old builds),
and the telephony provider's SIM table (content://telephony/siminfo: icc_id, imsi, number;
as root on a rooted handset). An identifier still missing after that is a match the
scanner cannot make: canaries.json (and run.json) say why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.devices.handset import Handset, as_root
from harness.devices.info import MARK, RootMethod, split_probe
from harness.devices.parsers import parse_content_rows
from harness.devices.shellquote import W, cmd, commands
from harness.devices.subinfo import (
    SUBINFO_NAMES,
    candidate_codes,
    parse_parcel_string,
    subinfo_codes,
)
from harness.errors import DeviceCommandError

IDENTIFIER_NAMES = (
    "imei", "imsi", "iccid", "phone", "serial", "android_id", "wifi_mac", "bt_mac",
    "advertising_id",
)
# IMEI properties of vendor builds (micro5k device-info.sh): Xiaomi, OEM RILs, old builds
IMEI_PROPS = ("ro.ril.miui.imei0", "ro.ril.oem.imei1", "persist.radio.imei1", "gsm.baseband.imei",
              "ro.gsm.imei", "gsm.imei", "ril.imei")
SIMINFO_URI = "content://telephony/siminfo"
SIMINFO_COLUMNS = {"iccid": "icc_id", "imsi": "imsi", "phone": "number"}
_DEVICE_ID = re.compile(r"Device ID\s*=\s*(\S+)")
_LINK_ETHER = re.compile(r"link/ether ([0-9a-fA-F:]{17})")
_ADID = re.compile(r'<string name="adid_key">([0-9a-fA-F-]{36})</string>')
ADID_PREFS = "/data/data/com.google.android.gms/shared_prefs/adid_settings.xml"

_VALID = {
    "imei": re.compile(r"^\d{14,16}$"),
    "imsi": re.compile(r"^\d{6,15}$"),
    "iccid": re.compile(r"^\d{18,22}F?$"),
    "phone": re.compile(r"^\+?\d{3,15}$"),
    "serial": re.compile(r"^[A-Za-z0-9._-]{4,64}$"),
    "android_id": re.compile(r"^[0-9a-f]{16}$"),
    "wifi_mac": re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"),
    "bt_mac": re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"),
    "advertising_id": re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
}


@dataclass(frozen=True)
class Identifiers:
    values: dict[str, str | None]
    missing: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"identifiers": dict(self.values), "identifiers_missing": dict(self.missing),
                "identifiers_source": dict(self.sources)}


def parse_adid(xml: str) -> str | None:
    match = _ADID.search(xml)
    return match.group(1) if match else None


def parse_siminfo(text: str) -> dict[str, str | None]:
    """`content query` rows of the SIM table -> {identifier: value} of the SIM in a slot
    (sim_id >= 0; a removed SIM keeps its row, with sim_id -1), else of the first row."""
    rows = parse_content_rows(text)
    active = [r for r in rows if r.get("sim_id", "0").isdigit()]
    row = (active or rows or [{}])[0]
    return {name: (None if row.get(col) in (None, "", "NULL") else row[col])
            for name, col in SIMINFO_COLUMNS.items()}


def _clean(name: str, value: str | None) -> tuple[str | None, str | None]:
    """(value, None) when valid, else (None, reason)."""
    if value is None:
        return None, "not set"
    value = value.strip()
    if not value or value == "null":
        return None, "empty"
    if name in ("wifi_mac", "bt_mac", "android_id"):
        value = value.lower()
    if name in _VALID and not _VALID[name].fullmatch(value):
        return None, f"unexpected value {value[:40]!r}"
    return value, None


class _SubscriberReads:
    """The four subscriber identifiers: what was read, from where, and every attempt."""

    def __init__(self, values: dict[str, str | None]) -> None:
        self.values = values
        self.sources: dict[str, str] = {}
        self.attempts: dict[str, list[str]] = {name: [] for name in SUBINFO_NAMES}

    def offer(self, name: str, source: str, value: str | None) -> bool:
        if self.values.get(name) is not None:
            return True
        raw = value.strip() if value else None
        other = next((k for k in SUBINFO_NAMES if k != name and raw and self.values.get(k) == raw), None)
        if other is not None:  # a wrong code can answer another getter
            value, reason = None, f"answered the {other}"
        else:
            value, reason = _clean(name, value)
        if value is None:
            self.attempts[name].append(f"{source}: {reason}")
            return False
        self.values[name], self.sources[name] = value, source
        return True

    def offer_parcel(self, name: str, code: int, why: str, text: str) -> bool:
        source = f"service call iphonesubinfo {code}" + (f" ({why})" if why else "")
        try:
            value = parse_parcel_string(text)
        except ValueError as e:
            self.attempts[name].append(f"{source}: {e}")
            return False
        return self.offer(name, source, value)

    def failed(self) -> list[str]:
        return [name for name in SUBINFO_NAMES if self.values.get(name) is None]


def _subinfo_line(code: int) -> str:
    return cmd(W("service"), W("call"), W("iphonesubinfo"), code, W("s16"), W("com.android.shell"))


def _batch(handset: Handset, lines: list[str]) -> list[str]:
    """Run `lines` in one round trip; one stdout section per line."""
    mark = cmd(W("echo"), MARK)
    joined = commands(*[part for line in lines for part in (line, mark)][:-1])
    return split_probe(handset.sh(joined, check=False).stdout) + [""] * len(lines)


def _fallbacks(handset: Handset, sdk: int, root: RootMethod, reads: _SubscriberReads) -> None:
    """One more round trip for the subscriber identifiers this release's codes missed."""
    failed = reads.failed()
    tried = subinfo_codes(sdk)
    plan: list[tuple[str, str, Any]] = []  # (identifier, kind, detail), one per line
    lines: list[str] = []
    for name in failed:
        for code, why in candidate_codes(sdk, name):
            if code != tried.get(name):
                plan.append((name, "code", (code, why)))
                lines.append(_subinfo_line(code))
    if "imei" in failed:
        for prop in IMEI_PROPS:
            plan.append(("imei", "prop", prop))
            lines.append(cmd(W("getprop"), W(prop)))
        plan.append(("imei", "dumpsys", None))
        lines.append(cmd(W("dumpsys"), W("iphonesubinfo")))
    if any(name in SIMINFO_COLUMNS for name in failed):
        query = cmd(W("content"), W("query"), W("--uri"), W(SIMINFO_URI),
                    W("--projection"), W("icc_id:imsi:number:sim_id"))
        plan.append(("", "siminfo", None))
        lines.append(as_root(root, query) if root != RootMethod.NONE else query)
    sections = _batch(handset, lines)
    for (name, kind, detail), text in zip(plan, sections, strict=False):
        if kind == "code":
            code, why = detail
            reads.offer_parcel(name, code, why, text)
        elif kind == "prop":
            if text.strip():
                reads.offer(name, f"getprop {detail}", text)
        elif kind == "dumpsys":
            match = _DEVICE_ID.search(text)
            reads.offer(name, "dumpsys iphonesubinfo", match.group(1) if match else None)
        else:
            found = parse_siminfo(text)
            for sim_name in SIMINFO_COLUMNS:
                if sim_name in failed:
                    reads.offer(sim_name, SIMINFO_URI, found[sim_name])


def read_identifiers(handset: Handset, sdk: int, rooted: bool) -> Identifiers:
    codes = subinfo_codes(sdk)
    names = list(codes)
    plain = ["android_id", "serial", "wifi_mac", "bt_mac"]
    lines = [_subinfo_line(codes[n]) for n in names] + [
        cmd(W("settings"), W("get"), W("secure"), W("android_id")),
        cmd(W("getprop"), W("ro.serialno")),
        cmd(W("cat"), W("/sys/class/net/wlan0/address")),
        cmd(W("settings"), W("get"), W("secure"), W("bluetooth_address")),
        cmd(W("ip"), W("link"), W("show"), W("wlan0")),
    ]
    sections = _batch(handset, lines)
    values: dict[str, str | None] = dict.fromkeys(IDENTIFIER_NAMES)
    missing: dict[str, str] = {}
    reads = _SubscriberReads(values)
    for name, text in zip(names, sections, strict=False):
        reads.offer_parcel(name, codes[name], "", text)
    for name in SUBINFO_NAMES:
        if name not in codes:
            reads.attempts[name].append(f"no known iphonesubinfo transaction code for SDK {sdk}")
    if reads.failed():
        _fallbacks(handset, sdk, handset.root if rooted else RootMethod.NONE, reads)
    for name in reads.failed():
        missing[name] = "; ".join(reads.attempts[name])
    for name, text in zip(plain, sections[len(names):], strict=False):
        values[name], reason = _clean(name, text)
        if reason:
            missing[name] = reason
    if values["wifi_mac"] is None:
        link = _LINK_ETHER.search(sections[len(names) + len(plain)])
        values["wifi_mac"], reason = _clean("wifi_mac", link.group(1) if link else None)
        if reason is None:
            missing.pop("wifi_mac", None)
    if values["wifi_mac"] == "02:00:00:00:00:00":
        values["wifi_mac"] = None
        missing["wifi_mac"] = "masked by Android (02:00:00:00:00:00)"
    if values["serial"] is None and rooted:
        out = handset.su(cmd(W("getprop"), W("ro.serialno")), check=False).stdout
        values["serial"], reason = _clean("serial", out)
        if reason is None:
            missing.pop("serial", None)
    if rooted:
        try:
            xml = handset.su(cmd(W("cat"), ADID_PREFS)).stdout
            values["advertising_id"], reason = _clean("advertising_id", parse_adid(xml))
            if reason:
                missing["advertising_id"] = f"{ADID_PREFS}: {reason}"
        except DeviceCommandError:
            missing["advertising_id"] = f"{ADID_PREFS} not readable"
    else:
        missing["advertising_id"] = "needs root (Google Play services' shared_prefs)"
    return Identifiers(values, missing, dict(reads.sources))
