"""Device identifiers read at prepare time (best effort; each missing one says why).

IMEI/IMSI/ICCID/phone number come from `service call iphonesubinfo CODE s16
com.android.shell` replies (Parcel dumps, service-call-iphonesubinfo.txt); the
transaction codes follow IPhoneSubInfo.aidl's order, which changes between releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.devices.handset import Handset
from harness.devices.info import MARK, split_probe
from harness.devices.shellquote import W, cmd, commands
from harness.errors import DeviceCommandError

IDENTIFIER_NAMES = (
    "imei", "imsi", "iccid", "phone", "serial", "android_id", "wifi_mac", "bt_mac",
    "advertising_id",
)

# (first SDK, last SDK) -> {identifier: code}. IMEI/ICCID/phone codes are micro5k's
# (device-info.sh); IMSI (getSubscriberId) is placed by the same AIDL order.
_CODES: list[tuple[int, int, dict[str, int]]] = [
    (30, 34, {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}),
    (28, 29, {"imei": 1, "imsi": 7, "iccid": 10, "phone": 12}),
    (22, 27, {"imei": 1, "imsi": 7, "iccid": 11, "phone": 13}),
    (21, 21, {"imei": 1, "imsi": 5, "iccid": 9, "phone": 11}),
]
_FAILURE_TEXTS = ("Requires READ_PHONE_STATE", "does not belong to", "Parcel data not fully consumed")
_WORD = re.compile(r"\b[0-9a-fA-F]{8}\b")
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

    def as_dict(self) -> dict[str, Any]:
        return {"identifiers": dict(self.values), "identifiers_missing": dict(self.missing)}


def subinfo_codes(sdk: int) -> dict[str, int]:
    for low, high, codes in _CODES:
        if low <= sdk <= high:
            return dict(codes)
    return {}


def parse_parcel_words(text: str) -> list[int]:
    """The 32-bit words of a `service call` reply (`Result: Parcel(...)`), in order."""
    if "Parcel(" not in text:
        raise ValueError("not a Parcel reply")
    body = text.split("Parcel(", 1)[1]
    words: list[int] = []
    for line in body.splitlines():
        line = re.sub(r"^\s*0x[0-9a-fA-F]{8}:", "", line)
        hexpart = line.split("'", 1)[0]
        words.extend(int(w, 16) for w in _WORD.findall(hexpart))
    return words


def parse_parcel_string(text: str) -> str | None:
    """A String16 reply: word0 = exception code, word1 = length, then UTF-16LE.

    Returns None for a null string; raises ValueError for an exception parcel or text
    that is not a Parcel reply.
    """
    for failure in _FAILURE_TEXTS:
        if failure in text:
            raise ValueError(failure)
    words = parse_parcel_words(text)
    if len(words) < 2:
        raise ValueError("short Parcel reply")
    if words[0] != 0:
        raise ValueError(f"exception parcel (code {words[0]:#x})")
    length = words[1]
    if length == 0xFFFFFFFF:
        return None
    raw = b"".join(w.to_bytes(4, "little") for w in words[2:])
    if len(raw) < 2 * length:
        raise ValueError("Parcel string shorter than its length")
    return raw[: 2 * length].decode("utf-16-le", errors="replace")


def parse_adid(xml: str) -> str | None:
    match = _ADID.search(xml)
    return match.group(1) if match else None


def _clean(name: str, value: str | None) -> tuple[str | None, str | None]:
    """(value, None) when valid, else (None, reason)."""
    if value is None:
        return None, "not set"
    value = value.strip()
    if not value or value == "null":
        return None, "empty"
    if name in ("wifi_mac", "bt_mac", "android_id"):
        value = value.lower()
    if name in _VALID and not _VALID[name].match(value):
        return None, f"unexpected value {value[:40]!r}"
    return value, None


def read_identifiers(handset: Handset, sdk: int, rooted: bool) -> Identifiers:
    codes = subinfo_codes(sdk)
    names = list(codes)
    lines = [cmd(W("service"), W("call"), W("iphonesubinfo"), codes[n], W("s16"), W("com.android.shell"))
             for n in names]
    plain = ["android_id", "serial", "wifi_mac", "bt_mac"]
    lines += [
        cmd(W("settings"), W("get"), W("secure"), W("android_id")),
        cmd(W("getprop"), W("ro.serialno")),
        cmd(W("cat"), W("/sys/class/net/wlan0/address")),
        cmd(W("settings"), W("get"), W("secure"), W("bluetooth_address")),
        cmd(W("ip"), W("link"), W("show"), W("wlan0")),
    ]
    mark = cmd(W("echo"), MARK)
    joined = commands(*[part for line in lines for part in (line, mark)][:-1])
    sections = split_probe(handset.sh(joined, check=False).stdout) + [""] * len(lines)
    values: dict[str, str | None] = dict.fromkeys(IDENTIFIER_NAMES)
    missing: dict[str, str] = {}
    for name, text in zip(names, sections, strict=False):
        try:
            raw = parse_parcel_string(text)
        except ValueError as e:
            missing[name] = f"service call iphonesubinfo {codes[name]}: {e}"
            continue
        values[name], reason = _clean(name, raw)
        if reason:
            missing[name] = f"service call iphonesubinfo {codes[name]}: {reason}"
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
    for name in ("imei", "imsi", "iccid", "phone"):
        if name not in codes:
            missing[name] = f"no known iphonesubinfo transaction code for SDK {sdk}"
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
    return Identifiers(values, missing)
