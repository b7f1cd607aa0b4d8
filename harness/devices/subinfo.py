"""`service call iphonesubinfo CODE s16 com.android.shell`: which code reads what, and the
Parcel replies (service-call-iphonesubinfo.txt).

A transaction code is the method's 1-based position in IPhoneSubInfo.aidl, counting every
method, so the codes move when a release inserts one. Sources (derivation and excerpts in
tests/devices/samples/iphonesubinfo-codes.txt):
- SDK 21-34: micro5k/microg-unofficial-installer utils/device-info.sh (IMEI, ICCID, line 1
  number per release; IMSI = getSubscriberId by the same order); Android 14 confirmed by a
  Samsung Android 14 framework.jar (Gabriel2392/frameworkjar_patches, IPhoneSubInfo$Stub:
  getSubscriberId 8, getIccSerialNumber 12, getLine1Number 15).
- SDK 35: android-15 adds no method before getLine1Number: LineageOS
  android_frameworks_opt_telephony lineage-22.0 (android-15.0.0) PhoneSubInfoController, which
  implements IPhoneSubInfo.Stub, has exactly lineage-21.0's (android-14) methods; codes as 14.
- SDK 36: android-16 inserts getGroupIdLevel2ForSubscriber at 12 (after
  getGroupIdLevel1ForSubscriber): IPhoneSubInfo.aidl of an Android 16 tree
  (yaap/frameworks_base 3ddcaa00, Build.VERSION_CODES up to BAKLAVA = 36) and an Android 16
  framework's IPhoneSubInfo$Stub (getGroupIdLevel2ForSubscriber 0xc, getIccSerialNumber 0xd,
  getLine1Number 0x10). ICCID 12 -> 13, line 1 number 15 -> 16.
Vendor builds may differ (micro5k: Huawei Android 9 shifts codes >= 3, Samsung Android 11
codes >= 11, by one), so identifiers.py also tries the other releases' codes and the next
code, and takes a reply only when it has the identifier's shape.
"""

from __future__ import annotations

import re

SUBINFO_NAMES = ("imei", "imsi", "iccid", "phone")
# (first SDK, last SDK, {identifier: code}, where the codes come from)
CODE_TABLES: list[tuple[int, int, dict[str, int], str]] = [
    (36, 36, {"imei": 1, "imsi": 8, "iccid": 13, "phone": 16}, "Android 16"),
    (30, 35, {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}, "Android 11-15"),
    (28, 29, {"imei": 1, "imsi": 7, "iccid": 10, "phone": 12}, "Android 9-10"),
    (22, 27, {"imei": 1, "imsi": 7, "iccid": 11, "phone": 13}, "Android 5.1-8.1"),
    (21, 21, {"imei": 1, "imsi": 5, "iccid": 9, "phone": 11}, "Android 5.0"),
]
MAX_CANDIDATES = 4
_FAILURE_TEXTS = ("Requires READ_PHONE_STATE", "does not belong to", "Parcel data not fully consumed")
_WORD = re.compile(r"\b[0-9a-fA-F]{8}\b")


def subinfo_codes(sdk: int) -> dict[str, int]:
    """{identifier: code} of this release; {} when the release's codes are unknown."""
    for low, high, codes, _ in CODE_TABLES:
        if low <= sdk <= high:
            return dict(codes)
    return {}


def candidate_codes(sdk: int, name: str) -> list[tuple[int, str]]:
    """Codes to try for one identifier, best first, each with why: this release's code,
    the codes of releases within two SDK levels of it (for an SDK newer than all known:
    the two newest releases'), then the code after the first (a vendor method inserted
    before it). At most MAX_CANDIDATES."""
    out: list[tuple[int, str]] = []

    def add(code: int, why: str) -> None:
        if all(code != c for c, _ in out):
            out.append((code, why))

    own = subinfo_codes(sdk).get(name)
    if own is not None:
        add(own, f"SDK {sdk}")
        near = [t for t in CODE_TABLES if t[0] - 2 <= sdk <= t[1] + 2]
    else:
        near = CODE_TABLES[:2] if sdk > CODE_TABLES[0][1] else CODE_TABLES[-1:]
    for _, _, codes, label in sorted(near, key=lambda t: min(abs(sdk - t[0]), abs(sdk - t[1]))):
        add(codes[name], f"code of {label}")
    add(out[0][0] + 1, "a vendor method before it")
    return out[:MAX_CANDIDATES]


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


def _string16(words: list[int]) -> str | None:
    """A String16 at the start of `words` (length word, then UTF-16LE); None for null."""
    if not words or words[0] == 0xFFFFFFFF:
        return None
    length = words[0]
    raw = b"".join(w.to_bytes(4, "little") for w in words[1:])
    if len(raw) < 2 * length:
        raise ValueError("Parcel string shorter than its length")
    return raw[: 2 * length].decode("utf-16-le", errors="replace")


def parse_parcel_string(text: str) -> str | None:
    """A String16 reply: word0 = exception code, word1 = length, then UTF-16LE.

    Returns None for a null string; raises ValueError for an exception parcel (its message
    when it has one) or text that is not a Parcel reply.
    """
    for failure in _FAILURE_TEXTS:
        if failure in text:
            raise ValueError(failure)
    words = parse_parcel_words(text)
    if len(words) < 2:
        raise ValueError("short Parcel reply")
    if words[0] != 0:
        code = words[0] - (1 << 32) if words[0] & 0x80000000 else words[0]
        try:
            message = _string16(words[1:])
        except ValueError:
            message = None
        raise ValueError(f"exception {code}: {message[:120]}" if message else f"exception parcel (code {code})")
    return _string16(words[1:])
