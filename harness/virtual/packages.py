"""Installed packages: the package manager's records (what `pm` and `dumpsys package` show)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

# Runtime ("dangerous") permissions: the only ones `pm grant`/`pm revoke` may change.
RUNTIME_PERMISSIONS = frozenset(f"android.permission.{p}" for p in (
    "READ_CALENDAR WRITE_CALENDAR CAMERA READ_CONTACTS WRITE_CONTACTS GET_ACCOUNTS "
    "ACCESS_FINE_LOCATION ACCESS_COARSE_LOCATION ACCESS_BACKGROUND_LOCATION RECORD_AUDIO "
    "READ_PHONE_STATE READ_PHONE_NUMBERS CALL_PHONE ANSWER_PHONE_CALLS READ_CALL_LOG "
    "WRITE_CALL_LOG ADD_VOICEMAIL USE_SIP BODY_SENSORS SEND_SMS RECEIVE_SMS READ_SMS "
    "RECEIVE_WAP_PUSH RECEIVE_MMS READ_EXTERNAL_STORAGE WRITE_EXTERNAL_STORAGE "
    "ACCESS_MEDIA_LOCATION ACTIVITY_RECOGNITION POST_NOTIFICATIONS READ_MEDIA_IMAGES "
    "READ_MEDIA_VIDEO READ_MEDIA_AUDIO NEARBY_WIFI_DEVICES BLUETOOTH_CONNECT BLUETOOTH_SCAN"
).split())
_PKG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
FIRST_BOOT = "2009-01-01 00:00:00"


@dataclass
class Package:
    name: str
    uid: int
    path: str
    system: bool = False
    version_code: int = 1
    version_name: str = "1.0"
    target_sdk: int = 33
    min_sdk: int = 26
    requested: list[str] = field(default_factory=list)
    granted: set[str] = field(default_factory=set)
    activities: list[str] = field(default_factory=lambda: [".MainActivity"])
    label: str = ""
    behaviours: dict[str, Any] = field(default_factory=dict)
    first_install: str = FIRST_BOOT
    last_update: str = FIRST_BOOT
    installer: str | None = None
    enabled: bool = True
    hidden_hash: str = ""

    @property
    def code_path(self) -> str:
        return self.path.rsplit("/", 1)[0]

    def full_activity(self, activity: str) -> str:
        return self.name + activity if activity.startswith(".") else activity

    def short_activity(self, activity: str) -> str:
        full = self.full_activity(activity)
        return full[len(self.name):] if full.startswith(self.name + ".") else full

    def launcher_activity(self) -> str | None:
        return self.full_activity(self.activities[0]) if self.activities else None

    def has_activity(self, activity: str) -> bool:
        full = self.full_activity(activity)
        return any(self.full_activity(a) == full for a in self.activities)


def data_app_path(package: str) -> str:
    """An Android 11+ style /data/app path: /data/app/~~<b64>==/<pkg>-<b64>==/base.apk."""
    h = hashlib.sha256(package.encode()).digest()
    a = base64.urlsafe_b64encode(h[:16]).decode().rstrip("=")[:22]
    b = base64.urlsafe_b64encode(h[16:32]).decode().rstrip("=")[:22]
    return f"/data/app/~~{a}==/{package}-{b}==/base.apk"


class ApkError(Exception):
    """Not an APK the virtual package manager accepts (its pm failure code is `code`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ApkInfo:
    package: str
    version_code: int
    version_name: str
    permissions: list[str]
    activities: list[str]
    behaviours: dict[str, Any]


def parse_apk(data: bytes) -> ApkInfo:
    """Read a virtual APK: a zip with an `AndroidManifest.xml` entry.

    Accepted manifest forms: a text manifest (`package="x.y"`, optional `versionCode`,
    `versionName`, `<uses-permission android:name="..."/>`, `<activity android:name="..."/>`),
    or a JSON entry `virtual-package.json` with package/version_code/version_name/
    permissions/activities/behaviours. Anything else fails like a real broken APK.
    """
    import json

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = set(zf.namelist())
        if "virtual-package.json" in names:
            meta = json.loads(zf.read("virtual-package.json"))
            pkg = str(meta["package"])
            info = ApkInfo(pkg, int(meta.get("version_code", 1)), str(meta.get("version_name", "1.0")),
                           list(meta.get("permissions", [])), list(meta.get("activities", [".MainActivity"])),
                           dict(meta.get("behaviours", {})))
        elif "AndroidManifest.xml" in names:
            text = zf.read("AndroidManifest.xml").decode("utf-8", "replace")
            m = re.search(r'package="([^"]+)"', text)
            if not m:
                raise ApkError("INSTALL_PARSE_FAILED_MANIFEST_MALFORMED", "No package name in manifest")
            vc = re.search(r'versionCode="(\d+)"', text)
            vn = re.search(r'versionName="([^"]+)"', text)
            perms = re.findall(r'<uses-permission\s+android:name="([^"]+)"', text)
            acts = re.findall(r'<activity\s+android:name="([^"]+)"', text) or [".MainActivity"]
            info = ApkInfo(m.group(1), int(vc.group(1)) if vc else 1, vn.group(1) if vn else "1.0",
                           perms, acts, {})
        else:
            raise ApkError("INSTALL_PARSE_FAILED_NOT_APK", "Failed to parse APK: missing AndroidManifest.xml")
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as e:
        raise ApkError("INSTALL_PARSE_FAILED_NOT_APK", f"Failed to parse APK: {e}") from e
    if not _PKG.match(info.package):
        raise ApkError("INSTALL_PARSE_FAILED_BAD_PACKAGE_NAME", f"Invalid package name {info.package!r}")
    return info


# Packages every virtual handset has (framework and the usual system apps).
BASE_SYSTEM = [
    ("android", "/system/framework/framework-res.apk", 1000),
    ("com.android.systemui", "/system_ext/priv-app/SystemUI/SystemUI.apk", 10040),
    ("com.android.settings", "/system_ext/priv-app/Settings/Settings.apk", 1000),
    ("com.android.phone", "/system/priv-app/TeleService/TeleService.apk", 1001),
    ("com.android.shell", "/system/priv-app/Shell/Shell.apk", 2000),
    ("com.android.providers.contacts", "/system/priv-app/ContactsProvider/ContactsProvider.apk", 10012),
    ("com.android.providers.telephony", "/system/priv-app/TelephonyProvider/TelephonyProvider.apk", 1001),
    ("com.android.providers.settings", "/system/priv-app/SettingsProvider/SettingsProvider.apk", 1000),
    ("com.android.launcher3", "/system_ext/priv-app/Launcher3QuickStep/Launcher3QuickStep.apk", 10060),
    ("com.android.chrome", "/product/app/Chrome/Chrome.apk", 10099),
    ("com.android.vending", "/product/priv-app/Phonesky/Phonesky.apk", 10070),
    ("com.google.android.gms", "/product/priv-app/PrebuiltGmsCore/PrebuiltGmsCore.apk", 10080),
]
