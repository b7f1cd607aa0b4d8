"""One handset's state, for the life of its process (reboot keeps it, like a phone).

The app runner reads these plain attributes: `identifiers` (dict: imei, imsi, iccid,
phone, serial, android_id, wifi_mac, bt_mac, advertising_id), `settings`
({"global"|"secure"|"system": dict}), `props` (getprop dict), `files` (FileSystem),
`trusted_ca_pems(include_user=False)` (the PEMs an app trusts now: the conscrypt APEX
store on SDK >= 34, else the system store, after any tmpfs/bind mounts), `contacts`
(list of {id, name, phone, email}), `sms` (rows), `tables` (raw content rows),
`accounts` (list of {name, type}), `sim_present` (the SIM's IMSI, ICCID and number read
as null without it), `clipboard` (str|None), `location`
({provider, lat, lon, accuracy, time}|None), `packages` (name -> Package, with
`.behaviours`, `.granted`, `.uid`), `apex` (APEX package -> versionCode), `sdk`, `rooted`,
`device_loopback`, `http_proxy()`
("host:port" or None), `logcat(level, pid, tag, message)`, `add_system_ca(pem)`.
Writers hold `lock` (a StateLock: re-entrant, set down with `lock.released()` while a
command waits); `stopping` is set when the handset shuts down.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from harness.virtual import namespaces
from harness.virtual.certs import default_roots, pem_file_name
from harness.virtual.conditions import Conditions
from harness.virtual.fs import FileSystem, FsError
from harness.virtual.packages import BASE_SYSTEM, Package, data_app_path
from harness.virtual.props import build_properties
from harness.virtual.spec import HandsetSpec
from harness.virtual.state_lock import StateLock

SYSTEM_CACERTS = "/system/etc/security/cacerts"
APEX_CACERTS = "/apex/com.android.conscrypt/cacerts"
USER_CACERTS = "/data/misc/user/0/cacerts-added"

MIME_NAME = "vnd.android.cursor.item/name"
MIME_PHONE = "vnd.android.cursor.item/phone_v2"
MIME_EMAIL = "vnd.android.cursor.item/email_v2"

# System processes every handset shows in `ps -A` (pid, ppid, user, uid, name).
SYSTEM_PROCESSES = [
    (1, 0, "root", 0, "init"), (2, 0, "root", 0, "[kthreadd]"), (97, 1, "root", 0, "ueventd"),
    (160, 1, "logd", 1036, "logd"), (163, 1, "system", 1000, "servicemanager"),
    (178, 1, "root", 0, "vold"), (369, 1, "root", 0, "zygote64"), (370, 1, "root", 0, "zygote"),
    (419, 1, "system", 1000, "surfaceflinger"), (445, 1, "shell", 2000, "adbd"),
    (558, 369, "system", 1000, "system_server"), (952, 369, "radio", 1001, "com.android.phone"),
    (4137, 369, "u0_a40", 10040, "com.android.systemui"),
]
ZYGOTE_PIDS = (369, 370)


MODULE_METADATA = "com.google.android.modulemetadata"


def apex_modules(spec: HandsetSpec) -> dict[str, int]:
    """APEX package -> versionCode: the ART module (as the spec names and versions it; by
    default the release's factory version) and the Conscrypt module of the same train."""
    if spec.build.sdk < 29:
        return {}
    factory = spec.build.sdk * 10_000_000 + 90_000
    art = spec.modules.art_version or factory
    google = spec.modules.art.startswith("com.google.")
    return {spec.modules.art: art,
            "com.google.android.conscrypt" if google else "com.android.conscrypt": art,
            "com.android.i18n": 1, "com.android.runtime": 1}


class HandsetState:
    def __init__(self, spec: HandsetSpec, device_loopback: str = "127.0.0.1") -> None:
        self.spec = spec
        self.name = spec.name
        self.lock = StateLock()
        self.stopping = threading.Event()  # set when the handset shuts down: ends waits
        self.sdk = spec.build.sdk
        self.rooted = spec.rooted
        self.device_loopback = device_loopback
        self.props = build_properties(spec)
        self.identifiers: dict[str, str] = spec.identifiers.model_dump()
        self.sim_present = True  # virtual/telephony.py inserts and removes it
        self.settings: dict[str, dict[str, str]] = self._default_settings()
        self.packages: dict[str, Package] = {}
        self.apex: dict[str, int] = apex_modules(spec)  # `pm list packages --apex-only`
        self.files = FileSystem()
        self.tables: dict[str, list[dict[str, Any]]] = {"raw_contacts": [], "data": [], "sms": [], "calls": []}
        self.accounts: list[dict[str, str]] = [a.model_dump() for a in spec.accounts]
        self.clipboard: str | None = None
        self.location: dict[str, Any] | None = None
        self.test_providers: dict[str, dict[str, Any]] = {}
        self.appops: dict[tuple[str, str], str] = {}
        self.reverse: dict[str, str] = {}
        self.frida_version: str | None = spec.frida_server_version
        self.frida_running = False
        self.adbd_root = False
        self.conditions = Conditions(spec.faults)  # screen, keyguard, clock, SELinux, firewall
        self.log: deque[tuple[float, int, int, str, str, str]] = deque(maxlen=2000)
        self.log_total = 0  # lines ever logged (streaming `logcat` follows it)
        self.boot_count = 0
        self.boot_time = time.time()
        self.foreground: tuple[str, str] | None = None
        self.wm_size_override: tuple[int, int] | None = None
        self.rotation = 0
        self._build_packages()
        self._build_files()
        namespaces.boot(self)
        self._build_content()
        self.logcat("I", 558, "SystemServer", "Entered the Android system server!")

    # --- construction ----------------------------------------------------------------
    def _default_settings(self) -> dict[str, dict[str, str]]:
        spec = self.spec
        glob = {"adb_enabled": "1", "airplane_mode_on": "0", "auto_time": "1", "auto_time_zone": "1",
                "bluetooth_on": "1", "boot_count": "1", "data_roaming": "0", "development_settings_enabled": "1",
                "device_name": spec.build.model, "device_provisioned": "1", "mobile_data": "1",
                "stay_on_while_plugged_in": "0", "wifi_on": "1", "window_animation_scale": "1.0",
                "transition_animation_scale": "1.0", "animator_duration_scale": "1.0"}
        secure = {"android_id": spec.identifiers.android_id, "bluetooth_address": spec.identifiers.bt_mac,
                  "bluetooth_name": spec.build.model, "default_input_method":
                  "com.android.inputmethod.latin/.LatinIME", "install_non_market_apps": "1",
                  "location_mode": "3", "mock_location": "0", "user_setup_complete": "1",
                  "screensaver_enabled": "0", "skip_first_use_hints": "1"}
        system = {"screen_brightness": "102", "screen_brightness_mode": "1", "screen_off_timeout": "60000",
                  "accelerometer_rotation": "1", "font_scale": "1.0", "volume_music": "7",
                  "sound_effects_enabled": "1", "haptic_feedback_enabled": "1", "time_12_24": "24"}
        glob.update(spec.settings.global_)
        secure.update(spec.settings.secure)
        system.update(spec.settings.system)
        return {"global": glob, "secure": secure, "system": system}

    def _build_packages(self) -> None:
        for name, path, uid in BASE_SYSTEM:
            self.packages[name] = Package(name, uid, path, system=True, version_code=self.sdk,
                                          version_name=self.spec.build.release, target_sdk=self.sdk,
                                          activities=[] if name in ("android", "com.android.shell") else [".MainActivity"])
        metadata = self.spec.modules.play_system_update
        if metadata is not None:  # the Play system update's date is this package's versionName
            self.packages[MODULE_METADATA] = Package(
                MODULE_METADATA, 10091, "/product/app/ModuleMetadataGoogle/ModuleMetadataGoogle.apk",
                system=True, version_code=self.apex[self.spec.modules.art], version_name=metadata,
                target_sdk=self.sdk, activities=[])
        next_uid = 10150
        for p in self.spec.packages:
            uid = p.uid if p.uid is not None else next_uid
            next_uid = max(next_uid, uid) + 1
            path = p.path or (f"/system/priv-app/{p.name.split('.')[-1].title()}/{p.name.split('.')[-1].title()}.apk"
                              if p.system else data_app_path(p.name))
            self.packages[p.name] = Package(
                p.name, uid, path, system=p.system, version_code=p.version_code,
                version_name=p.version_name, target_sdk=p.target_sdk or self.sdk,
                requested=list(p.permissions), granted=set(p.granted) & set(p.permissions),
                activities=list(p.activities), label=p.label or p.name, behaviours=dict(p.behaviours),
                first_install="2009-01-01 00:00:00" if p.system else "2024-03-02 10:15:00",
                last_update="2009-01-01 00:00:00" if p.system else "2024-03-02 10:15:00",
                installer=None if p.system else "com.android.vending")

    def next_uid(self) -> int:
        return max([10150] + [p.uid for p in self.packages.values() if p.uid >= 10000]) + 1

    def _build_files(self) -> None:
        fs = self.files
        for d, mode, uid, label in [
            ("/system/bin", 0o755, 0, "u:object_r:system_file:s0"),
            ("/system/etc/security/cacerts", 0o755, 0, "u:object_r:system_security_cacerts_file:s0"),
            ("/system/app", 0o755, 0, None), ("/system/priv-app", 0o755, 0, None),
            ("/system/framework", 0o755, 0, None), ("/system_ext/priv-app", 0o755, 0, None),
            ("/product/app", 0o755, 0, None), ("/product/priv-app", 0o755, 0, None),
            ("/vendor/etc", 0o755, 0, "u:object_r:vendor_file:s0"),
            ("/data/local/tmp", 0o771, 2000, "u:object_r:shell_data_file:s0"),
            ("/data/app", 0o771, 1000, "u:object_r:apk_data_file:s0"),
            ("/data/misc/user/0", 0o771, 1000, "u:object_r:user_profile_data_file:s0"),
            ("/data/system", 0o775, 1000, "u:object_r:system_data_file:s0"),
            ("/storage/emulated/0/Download", 0o771, 0, "u:object_r:fuse:s0"),
            ("/storage/emulated/0/DCIM", 0o771, 0, "u:object_r:fuse:s0"),
            ("/proc", 0o555, 0, "u:object_r:proc:s0"), ("/dev", 0o755, 0, "u:object_r:device:s0"),
            ("/mnt", 0o755, 0, None), ("/cache", 0o770, 1000, None), ("/odm", 0o755, 0, None),
        ]:
            fs.mkdir(d, mode, parents=True, uid=uid, gid=uid, label=label)
        fs.symlink("/storage/emulated/0", "/sdcard")
        fs.symlink("/system/bin", "/bin")
        fs.symlink("/system/etc", "/etc")
        fs.write("/system/build.prop", "".join(f"{k}={v}\n" for k, v in self.props.items()
                                               if k.startswith("ro.")).encode(), 0o600)
        fs.write("/proc/version", f"Linux version {self.spec.build.kernel} (android-build@build-host) "
                 f"(Android clang version 14.0.6) #1 SMP PREEMPT {self.props['ro.build.date']}\n".encode(), 0o444)
        for root in default_roots().items():
            name, pem = root
            fs.write(f"{SYSTEM_CACERTS}/{name}", pem, 0o644, mtime=1230768000)
        if self.sdk >= 34:
            fs.mkdir(APEX_CACERTS, 0o755, parents=True, label="u:object_r:system_security_cacerts_file:s0")
            for name, node in fs.listdir(SYSTEM_CACERTS):
                fs.write(f"{APEX_CACERTS}/{name}", node.data, 0o644, mtime=1230768000)  # type: ignore[attr-defined]
        if self.sdk >= 29:  # apexd mounts the active version at /apex/NAME@VERSION, bound to /apex/NAME
            art = self.apex[self.spec.modules.art]
            fs.mkdir("/apex/com.android.art/javalib", 0o755, parents=True, label="u:object_r:system_file:s0")
            fs.mkdir(f"/apex/com.android.art@{art}/javalib", 0o755, parents=True, label="u:object_r:system_file:s0")
        for pkg in self.packages.values():
            fs.mkdir(pkg.code_path, 0o755, parents=True, uid=1000 if not pkg.system else 0,
                     gid=1000 if not pkg.system else 0)
            fs.write(pkg.path, b"PK\x05\x06" + b"\0" * 18, 0o644)
        ids = self.spec.identifiers
        fs.mkdir("/sys/class/net/wlan0", 0o755, parents=True, label="u:object_r:sysfs_net:s0")
        fs.write("/sys/class/net/wlan0/address", f"{ids.wifi_mac}\n".encode(), 0o444)
        fs.mkdir("/data/data/com.google.android.gms/shared_prefs", 0o771, parents=True, uid=10080, gid=10080,
                 label="u:object_r:app_data_file:s0")
        fs.write("/data/data/com.google.android.gms/shared_prefs/adid_settings.xml",
                 ("<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n"
                  f'    <string name="adid_key">{ids.advertising_id}</string>\n'
                  '    <int name="adid_reset_count" value="0" />\n'
                  '    <boolean name="enable_limit_ad_tracking" value="false" />\n</map>\n').encode(),
                 0o660, 10080, 10080)
        for path, text in self.spec.files.items():
            fs.mkdir(path.rsplit("/", 1)[0] or "/", 0o771, parents=True)
            fs.write(path, text.encode(), 0o644)
        fs.static_mounts = [
            "/dev/block/dm-5 on / type ext4 (ro,seclabel,relatime)",
            "tmpfs on /dev type tmpfs (rw,seclabel,nosuid,relatime,mode=755)",
            "proc on /proc type proc (rw,relatime,gid=3009,hidepid=invisible)",
            "sysfs on /sys type sysfs (rw,seclabel,relatime)",
            "/dev/block/dm-6 on /system_ext type ext4 (ro,seclabel,relatime)",
            "/dev/block/dm-7 on /product type ext4 (ro,seclabel,relatime)",
            "/dev/block/dm-8 on /vendor type ext4 (ro,seclabel,relatime)",
            "tmpfs on /apex type tmpfs (rw,seclabel,nosuid,nodev,noexec,relatime,mode=755)",
        ]
        if self.sdk >= 34:
            fs.static_mounts.append("/dev/block/loop7 on /apex/com.android.conscrypt type ext4 "
                                    "(ro,dirsync,seclabel,nodev,noatime)")
        fs.static_mounts += [
            "/dev/block/dm-34 on /data type f2fs (rw,lazytime,seclabel,nosuid,nodev,noatime)",
            "/dev/fuse on /storage/emulated type fuse (rw,lazytime,nosuid,nodev,noexec,noatime,"
            "user_id=0,group_id=0,allow_other)",
        ]

    def _build_content(self) -> None:
        for c in self.spec.contacts:
            self.add_contact(c.name, c.phone, c.email)
        for s in self.spec.sms:
            self.insert_row("sms", {"address": s.address, "body": s.body, "type": s.type, "date": s.date,
                                    "read": s.read, "seen": 1, "thread_id": 1})

    # --- content tables --------------------------------------------------------------
    def insert_row(self, table: str, values: dict[str, Any]) -> int:
        rows = self.tables[table]
        row_id = max([0] + [int(r["_id"]) for r in rows]) + 1
        rows.append({"_id": row_id, **values})
        return row_id

    def add_contact(self, name: str, phone: str = "", email: str = "") -> int:
        rid = self.insert_row("raw_contacts", {"account_type": None, "account_name": None,
                                               "display_name": name, "deleted": 0})
        self.insert_row("data", {"raw_contact_id": rid, "mimetype": MIME_NAME, "data1": name})
        if phone:
            self.insert_row("data", {"raw_contact_id": rid, "mimetype": MIME_PHONE, "data1": phone, "data2": 2})
        if email:
            self.insert_row("data", {"raw_contact_id": rid, "mimetype": MIME_EMAIL, "data1": email, "data2": 1})
        return rid

    @property
    def contacts(self) -> list[dict[str, Any]]:
        """One dict per raw contact: id, name, phone, email (from the data rows)."""
        out = []
        for raw in self.tables["raw_contacts"]:
            if str(raw.get("deleted", 0)) == "1":
                continue
            rows = [d for d in self.tables["data"] if str(d.get("raw_contact_id")) == str(raw["_id"])]
            pick = {m: next((str(d.get("data1")) for d in rows if d.get("mimetype") == m), "")
                    for m in (MIME_NAME, MIME_PHONE, MIME_EMAIL)}
            out.append({"id": raw["_id"], "name": pick[MIME_NAME] or str(raw.get("display_name") or ""),
                        "phone": pick[MIME_PHONE], "email": pick[MIME_EMAIL]})
        return out

    @property
    def sms(self) -> list[dict[str, Any]]:
        return self.tables["sms"]

    # --- what the runner and shell share ---------------------------------------------
    def http_proxy(self) -> str | None:
        """The global proxy apps honour: "host:port", or None (unset, ":0", empty host)."""
        value = self.settings["global"].get("http_proxy")
        if not value or ":" not in value:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or int(port) == 0:
            return None
        return value

    def ca_files(self, directory: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        try:
            for name, node in self.files.listdir(directory):
                data = getattr(node, "data", None)
                if data is not None and name.endswith(".0"):
                    out[name] = data
        except FsError:
            pass
        return out

    def trusted_ca_pems(self, include_user: bool = False, package: str | None = None) -> list[bytes]:
        """CA certificates an app trusts: the conscrypt APEX store on SDK >= 34, else the
        system store, as seen in the app's mount namespace (without a package: a process
        forked now); plus the user store when the app opts in (include_user)."""
        store = APEX_CACERTS if self.sdk >= 34 else SYSTEM_CACERTS
        with self.files.in_namespace(namespaces.for_package(self, package)):
            pems = list(self.ca_files(store).values())
        if include_user:
            pems += list(self.ca_files(USER_CACERTS).values())
        return pems

    def add_system_ca(self, pem: bytes) -> str:
        """Install a CA as part of the image (e.g. the virtual internet's root)."""
        name = pem_file_name(pem)
        self.files.write(f"{SYSTEM_CACERTS}/{name}", pem, 0o644, mtime=1230768000)
        if self.sdk >= 34:
            self.files.write(f"{APEX_CACERTS}/{name}", pem, 0o644, mtime=1230768000)
        return name

    def logcat(self, level: str, pid: int, tag: str, message: str) -> None:
        """Append a log line (time, pid, tid, level letter, tag, message); any thread."""
        with self.lock:
            self.log.append((time.time(), int(pid), int(pid), (level or "I")[:1], str(tag), str(message)))
            self.log_total += 1

    def process_started(self, package: str) -> None:
        """The app runner forked `package`'s process: it gets its parent's mounts of now."""
        with self.lock:
            namespaces.process_started(self, package)

    def reboot(self) -> None:
        """What a reboot loses: tmpfs/bind mounts, reverse forwards, test providers, focus."""
        with self.lock:
            self.files.mounts.clear()
            namespaces.boot(self)
            self.conditions.reboot()
            self.reverse.clear()
            self.test_providers.clear()
            self.location = None
            self.foreground = None
            self.frida_running = False
            self.adbd_root = False
            self.props["service.adb.root"] = "0"
            self.boot_count += 1
            self.boot_time = time.time()
            self.settings["global"]["boot_count"] = str(self.boot_count + 1)
            self.log.clear()
            self.logcat("I", 558, "SystemServer", "Entered the Android system server!")
