"""`service call iphonesubinfo CODE [ARGS]`: IPhoneSubInfo's transactions, per release.

An AIDL method's transaction code is its 1-based position in the interface, so the codes
move when a release inserts a method: Android 16 put getGroupIdLevel2ForSubscriber at 12,
moving the ICCID to 13 and the line 1 number to 16. The orders below are those of
IPhoneSubInfo.aidl (derivation and sources: tests/devices/samples/iphonesubinfo-codes.txt);
only the first twenty or so methods are listed, the later ones answer a null string.

Arguments are checked against the method's parameters as the generated stub reads them:
a string where an int is read (or data left over) is, from Android 13 on, the stub's
`enforceNoDataAvail` failure ("Parcel data not fully consumed"); before, a misread that
answers null. Behaviour modelled on AOSP, not a capture.
"""

from __future__ import annotations

from typing import Any

# (method, parameter kinds: s String, i int, l long, what it answers)
_A30 = [  # Android 11-15 (SDK 30-35)
    ("getDeviceId", "s", "imei"), ("getDeviceIdWithFeature", "ss", "imei"),
    ("getNaiForSubscriber", "iss", None), ("getDeviceIdForPhone", "iss", "imei"),
    ("getImeiForSubscriber", "iss", "imei"), ("getDeviceSvn", "ss", "svn"),
    ("getDeviceSvnUsingSubId", "iss", "svn"), ("getSubscriberId", "s", "imsi"),
    ("getSubscriberIdWithFeature", "ss", "imsi"), ("getSubscriberIdForSubscriber", "iss", "imsi"),
    ("getGroupIdLevel1ForSubscriber", "iss", "gid"), ("getIccSerialNumber", "s", "iccid"),
    ("getIccSerialNumberWithFeature", "ss", "iccid"), ("getIccSerialNumberForSubscriber", "iss", "iccid"),
    ("getLine1Number", "ss", "phone"), ("getLine1NumberForSubscriber", "iss", "phone"),
    ("getLine1AlphaTag", "ss", None), ("getLine1AlphaTagForSubscriber", "iss", None),
    ("getMsisdn", "ss", "phone"), ("getMsisdnForSubscriber", "iss", "phone"),
]
_A36 = _A30[:11] + [("getGroupIdLevel2ForSubscriber", "iss", "gid")] + _A30[11:]  # Android 16
_A28 = [  # Android 9-10 (SDK 28-29)
    ("getDeviceId", "s", "imei"), ("getNaiForSubscriber", "is", None),
    ("getDeviceIdForPhone", "is", "imei"), ("getImeiForSubscriber", "is", "imei"),
    ("getDeviceSvn", "s", "svn"), ("getDeviceSvnUsingSubId", "is", "svn"),
    ("getSubscriberId", "s", "imsi"), ("getSubscriberIdForSubscriber", "is", "imsi"),
    ("getGroupIdLevel1ForSubscriber", "is", "gid"), ("getIccSerialNumber", "s", "iccid"),
    ("getIccSerialNumberForSubscriber", "is", "iccid"), ("getLine1Number", "s", "phone"),
    ("getLine1NumberForSubscriber", "is", "phone"), ("getLine1AlphaTag", "s", None),
    ("getLine1AlphaTagForSubscriber", "is", None), ("getMsisdn", "s", "phone"),
    ("getMsisdnForSubscriber", "is", "phone"),
]
_A22 = _A28[:8] + [("getGroupIdLevel1", "s", "gid")] + _A28[8:]  # Android 5.1-8.1 (SDK 22-27)
_A21 = [  # Android 5.0 (SDK 21): no calling package yet
    ("getDeviceId", "", "imei"), ("getDeviceIdForSubscriber", "l", "imei"),
    ("getImeiForSubscriber", "l", "imei"), ("getDeviceSvn", "", "svn"),
    ("getSubscriberId", "", "imsi"), ("getSubscriberIdForSubscriber", "l", "imsi"),
    ("getGroupIdLevel1", "", "gid"), ("getGroupIdLevel1ForSubscriber", "l", "gid"),
    ("getIccSerialNumber", "", "iccid"), ("getIccSerialNumberForSubscriber", "l", "iccid"),
    ("getLine1Number", "", "phone"), ("getLine1NumberForSubscriber", "l", "phone"),
    ("getLine1AlphaTag", "", None), ("getLine1AlphaTagForSubscriber", "l", None),
    ("getMsisdn", "", "phone"), ("getMsisdnForSubscriber", "l", "phone"),
]
_ARG_KINDS = {"i32": "i", "i64": "l", "s16": "s", "f": "f", "d": "d", "null": "b", "fd": "b"}
EX_SECURITY = 0xFFFFFFFF  # -1
EX_BAD_PARCELABLE = 0xFFFFFFFE  # -2
SIM_ANSWERS = ("imsi", "iccid", "phone", "gid")


def methods(sdk: int, vendor_method_at: int | None = None) -> list[tuple[str, str, str | None]]:
    """IPhoneSubInfo's methods in transaction order for this release (and vendor quirk)."""
    table = _A36 if sdk >= 36 else _A30 if sdk >= 30 else _A28 if sdk >= 28 else _A22 if sdk >= 22 else _A21
    table = list(table)
    if vendor_method_at is not None and vendor_method_at <= len(table) + 1:
        table.insert(vendor_method_at - 1, ("semGetSubscriberInfo", "i", None))
    return table


def string16_words(text: str | None) -> list[int]:
    if text is None:
        return [0xFFFFFFFF]
    units = list(text.encode("utf-16-le")) + [0, 0]
    while len(units) % 4:
        units.append(0)
    return [len(text)] + [int.from_bytes(bytes(units[i:i + 4]), "little") for i in range(0, len(units), 4)]


def format_parcel(words: list[int]) -> str:
    """`service call`'s dump of a reply (service-call-iphonesubinfo.txt)."""
    raw = b"".join(w.to_bytes(4, "little") for w in words)
    ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in raw)
    if len(raw) <= 16:
        return "Result: Parcel(" + " ".join(f"{w:08x}" for w in words) + f"   '{ascii_}')\n"
    lines = ["Result: Parcel("]
    for off in range(0, len(words), 4):
        row = words[off:off + 4]
        cells = "".join(f"{w:08x} " for w in row) + " " * 9 * (4 - len(row))
        text = ascii_[off * 4:off * 4 + 16].ljust(16)
        lines.append(f"  0x{off * 4:08x}: {cells}'{text}'")
    return "\n".join(lines) + ")\n"


def _exception(code: int, message: str) -> str:
    return format_parcel([code] + string16_words(message) + [0])


def _parse_args(args: list[str]) -> list[tuple[str, str]] | None:
    """`i32 1 s16 com.android.shell` -> [("i", "1"), ("s", "com.android.shell")]."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        kind = _ARG_KINDS.get(args[i])
        if kind is None:
            return None
        if kind == "b" and args[i] == "null":
            out.append((kind, ""))
            i += 1
            continue
        if i + 1 >= len(args):
            return None
        out.append((kind, args[i + 1]))
        i += 2
    return out


def call(state: Any, uid: int, code: int, args: list[str]) -> str:
    """The reply `service call iphonesubinfo CODE ARGS` prints on this handset."""
    table = methods(state.sdk, state.spec.telephony.vendor_method_at)
    given = _parse_args(args)
    if given is None:
        return "service: unknown argument\n"
    if not 1 <= code <= len(table):
        return format_parcel([0, 0xFFFFFFFF])
    name, params, answers = table[code - 1]
    wrong = len(given) > len(params) or any(kind != params[k] for k, (kind, _) in enumerate(given[:len(params)]))
    if wrong:
        if state.sdk < 33:
            return format_parcel([0, 0xFFFFFFFF])
        unread = 4 * sum(1 + (len(v) + 2) // 2 if k == "s" else 1 for k, v in given)
        return _exception(EX_BAD_PARCELABLE, f"Parcel data not fully consumed, unread size: {unread}")
    strings = [v for kind, v in given if kind == "s"]
    package = strings[0] if strings else None
    if package is not None and package != "com.android.shell" and uid != 0:
        return _exception(EX_SECURITY, f"Package {package} does not belong to {uid}")
    if answers is None:
        return format_parcel([0, 0xFFFFFFFF])
    if state.sdk >= 29 and "s" in params and package is None and answers != "svn":
        return _exception(EX_SECURITY, f"{name}: The user {uid} does not meet the requirements to access "
                                       "device identifiers.")
    ids = state.identifiers
    if answers in SIM_ANSWERS and not getattr(state, "sim_present", True):
        value = None
    else:
        value = {"imei": ids["imei"], "svn": "01", "imsi": ids["imsi"], "iccid": ids["iccid"],
                 "phone": ids["phone"] or None, "gid": None}[answers]
    return format_parcel([0] + string16_words(value))
