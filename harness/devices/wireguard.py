"""Full-device capture on a phone: the official WireGuard app (com.wireguard.android)
carries every packet to the lab proxy's WireGuard server, with always-on lockdown so
nothing goes around the tunnel, also at boot. Procedure and sources:
../shared/android-reference/full-capture-wireguard.md (WireGuard/wireguard-android:
FileConfigStore, TunnelManager.IntentReceiver, ui/src/main/AndroidManifest.xml).

Rooted handset (every step journaled before it is made, undone by `lab restore`):
1. the tunnel `<name>.conf` (wg-quick) pushed to /data/local/tmp and copied into the app's
   files folder with the app's uid and the folder's SELinux context (chown, chmod, chcon);
2. "Allow remote control apps": `allow_remote_control_intents` set in the app's Preferences
   DataStore (files/datastore/settings.preferences_pb; other entries kept), app force-stopped
   so it reads both again;
3. VPN consent: `appops set com.wireguard.android ACTIVATE_VPN allow`;
4. always-on VPN with lockdown: `settings put secure always_on_vpn_app com.wireguard.android`
   and `always_on_vpn_lockdown 1` (whether the framework applies them before a reboot is not
   established on every release: `tunnel_up` is checked by the proxy's probe, not assumed);
5. the tunnel up: `am broadcast -a com.wireguard.android.action.SET_TUNNEL_UP -e tunnel NAME
   -n com.wireguard.android/.model.TunnelManager$IntentReceiver`, as root (the receiver
   requires CONTROL_TUNNELS, which the shell user does not hold).

Unrooted handset: steps 3 and 4 the same (the shell user may); the tunnel is shown as a
terminal QR code (segno) for the technician to scan in the app and switch on, with "Allow
remote control apps" left as it is; removing that tunnel afterwards is the technician's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from adbutils.errors import AdbError

from harness.devices.handset import Handset, convert_adb_error
from harness.devices.info import RootMethod
from harness.devices.journal import Journal
from harness.devices.proxy_setting import read_setting
from harness.devices.shellquote import W, check_package, check_path, cmd, commands
from harness.errors import DeviceCommandError, UnsafeValueError

PACKAGE = "com.wireguard.android"
RECEIVER = "com.wireguard.android/.model.TunnelManager$IntentReceiver"
ACTION_UP = "com.wireguard.android.action.SET_TUNNEL_UP"
ACTION_DOWN = "com.wireguard.android.action.SET_TUNNEL_DOWN"
FILES_DIR = f"/data/data/{PACKAGE}/files"
DATASTORE_DIR = f"{FILES_DIR}/datastore"
SETTINGS_FILE = f"{DATASTORE_DIR}/settings.preferences_pb"
REMOTE_CONTROL_KEY = "allow_remote_control_intents"
STAGING = "/data/local/tmp/lab-wireguard.tmp"
VPN_SETTINGS = (("always_on_vpn_app", PACKAGE), ("always_on_vpn_lockdown", "1"))
_TUNNEL_NAME = re.compile(r"[a-zA-Z0-9_=+.-]{1,15}")  # the app's Tunnel.NAME_PATTERN
_CONTEXT = re.compile(r"u:object_r:[a-z0-9_]+:s0(:c\d{1,4}(,c\d{1,4})*)?")
_UID = re.compile(r"\d{4,6}")
_MODE = re.compile(r"[a-z_]{1,16}")
_SETTING_VALUE = re.compile(r"[A-Za-z0-9._]{0,200}")


def check_tunnel_name(value: object) -> str:
    if not isinstance(value, str) or not _TUNNEL_NAME.fullmatch(value):
        raise UnsafeValueError(f"refusing unsafe tunnel name {value!r}: 1-15 of a-z A-Z 0-9 _ = + . -")
    return value


def tunnel_path(name: str) -> str:
    return check_path(f"{FILES_DIR}/{check_tunnel_name(name)}.conf")


# --- the shell strings (tests/devices/test_wireguard.py checks them against the reference) ---
def broadcast_command(action: str, name: str) -> str:
    """The app's remote control: run as root (CONTROL_TUNNELS)."""
    if action not in (ACTION_UP, ACTION_DOWN):
        raise UnsafeValueError(f"not a WireGuard tunnel action: {action!r}")
    return cmd(W("am"), W("broadcast"), W("-a"), W(action), W("-n"), W(f"'{RECEIVER}'"),
               W("-e"), W("tunnel"), check_tunnel_name(name))


def install_command(name: str, uid: str, context: str) -> str:
    """Copy the staged tunnel into the app's files folder, owned and labelled as the app's."""
    path = tunnel_path(name)
    owner = f"{_check(_UID, uid, 'uid')}:{uid}"
    return commands(cmd(W("cp"), W(STAGING), path), cmd(W("chown"), owner, path),
                    cmd(W("chmod"), W("600"), path), cmd(W("chcon"), _check(_CONTEXT, context, "SELinux context"), path),
                    cmd(W("rm"), W("-f"), W(STAGING)))


def settings_install_command(uid: str, context: str) -> str:
    owner = f"{_check(_UID, uid, 'uid')}:{uid}"
    ctx = _check(_CONTEXT, context, "SELinux context")
    return commands(cmd(W("mkdir"), W("-p"), W(DATASTORE_DIR)), cmd(W("chown"), owner, W(DATASTORE_DIR)),
                    cmd(W("chcon"), ctx, W(DATASTORE_DIR)), cmd(W("cp"), W(STAGING), W(SETTINGS_FILE)),
                    cmd(W("chown"), owner, W(SETTINGS_FILE)), cmd(W("chmod"), W("600"), W(SETTINGS_FILE)),
                    cmd(W("chcon"), ctx, W(SETTINGS_FILE)), cmd(W("rm"), W("-f"), W(STAGING)))


def appops_command(mode: str) -> str:
    return cmd(W("appops"), W("set"), W(PACKAGE), W("ACTIVATE_VPN"), _check(_MODE, mode, "app-op mode"))


def put_setting_command(key: str, value: str | None) -> str:
    if key not in dict(VPN_SETTINGS):
        raise UnsafeValueError(f"not an always-on VPN setting: {key!r}")
    if value is None:
        return cmd(W("settings"), W("delete"), W("secure"), W(key))
    return cmd(W("settings"), W("put"), W("secure"), W(key), _check(_SETTING_VALUE, value, "setting value"))


def _check(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UnsafeValueError(f"refusing unsafe {what} {value!r}: it would reach a handset shell")
    return value


# --- Preferences DataStore (PreferenceMap protobuf: entries of key + Value{boolean = 1}) ---
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while i < len(data) and shift < 64:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    raise ValueError("not a Preferences DataStore file")


def with_flag(existing: bytes, key: str, flag: bool) -> bytes:
    """The preferences file with key set to flag; every other entry kept byte for byte."""
    kept = bytearray()
    i = 0
    while i < len(existing):
        start = i
        tag, i = _read_varint(existing, i)
        if tag != 0x0A:
            raise ValueError("not a Preferences DataStore file")
        length, i = _read_varint(existing, i)
        entry = existing[i:i + length]
        i += length
        klen, j = _read_varint(entry, 1) if entry[:1] == b"\x0a" else (0, 0)
        if entry[j:j + klen] != key.encode():
            kept += existing[start:i]
    value = b"\x08" + (b"\x01" if flag else b"\x00")
    name = key.encode()
    body = b"\x0a" + _varint(len(name)) + name + b"\x12" + _varint(len(value)) + value
    return bytes(kept) + b"\x0a" + _varint(len(body)) + body


# --- the procedure ------------------------------------------------------------------------
@dataclass(frozen=True)
class AppFolder:
    uid: str
    context: str


def app_folder(handset: Handset) -> AppFolder:
    out = handset.su(cmd(W("stat"), W("-c"), W("'%u %C'"), W(FILES_DIR)), check=False).stdout.split()
    if len(out) != 2:
        raise DeviceCommandError(f"{handset.serial}: {FILES_DIR} not found: open the WireGuard app once")
    return AppFolder(_check(_UID, out[0], "uid"), _check(_CONTEXT, out[1], "SELinux context"))


def path_listed(pm_path_output: str) -> bool:
    """`pm path PACKAGE` named an APK: `package:/data/app/.../base.apk`, one line per split;
    nothing (exit 1) for a package that is not installed."""
    return any(line.strip().startswith("package:/") for line in pm_path_output.splitlines())


def installed(handset: Handset) -> bool:
    """The WireGuard app is installed on the handset (`pm path com.wireguard.android`)."""
    return path_listed(handset.sh(cmd(W("pm"), W("path"), check_package(PACKAGE)), check=False).stdout)


def require_app(handset: Handset) -> None:
    if not installed(handset):
        raise DeviceCommandError(f"{handset.serial}: the WireGuard app ({PACKAGE}) is not installed")


def read_root_file(handset: Handset, path: str) -> bytes | None:
    """A file only root reads, through adb pull of a staged copy (None when absent)."""
    if not handset.exists(path, as_root=True):
        return None
    handset.su(commands(cmd(W("cp"), check_path(path), W(STAGING)), cmd(W("chmod"), W("644"), W(STAGING))))
    try:
        return handset.adb.sync.read_bytes(STAGING)
    except (AdbError, OSError, EOFError) as e:
        raise convert_adb_error(e, handset.serial, f"reading {path}") from e
    finally:
        handset.su(cmd(W("rm"), W("-f"), W(STAGING)), check=False)


def appop_mode(handset: Handset) -> str | None:
    out = handset.sh(cmd(W("appops"), W("get"), W(PACKAGE), W("ACTIVATE_VPN")), check=False).stdout
    match = re.search(r"ACTIVATE_VPN: ([a-z_]+)", out)
    return match.group(1) if match else None


def set_up(handset: Handset, journal: Journal, name: str, tunnel: str,
           show: Callable[[str], bool] | None = None) -> None:
    """The whole procedure (rooted), or consent + always-on + the QR for the technician."""
    require_app(handset)
    name = check_tunnel_name(name)
    if handset.root == RootMethod.NONE:
        _vpn_consent_and_lockdown(handset, journal)
        if show is None or not show(tunnel_qr_text(name, tunnel)):
            raise DeviceCommandError(f"{handset.serial}: the tunnel {name} was not imported and switched on "
                                     "in the WireGuard app (unrooted handset: the technician does it)")
        journal.note(f"technician imported WireGuard tunnel {name}; remove it in the app after the audit")
        return
    folder = app_folder(handset)
    previous = read_root_file(handset, tunnel_path(name))
    entry = journal.begin("wireguard_tunnel", name=name, previous=previous.hex() if previous is not None else None)
    handset.push_bytes(tunnel.encode(), STAGING, 0o600)
    handset.su(install_command(name, folder.uid, folder.context))
    journal.done(entry)
    settings = read_root_file(handset, SETTINGS_FILE)
    entry = journal.begin("wireguard_settings", previous=settings.hex() if settings is not None else None,
                          dir_existed=handset.exists(DATASTORE_DIR, as_root=True))
    handset.push_bytes(with_flag(settings or b"", REMOTE_CONTROL_KEY, True), STAGING, 0o600)
    handset.su(settings_install_command(folder.uid, folder.context))
    handset.sh(cmd(W("am"), W("force-stop"), W(PACKAGE)))
    journal.done(entry)
    _vpn_consent_and_lockdown(handset, journal)
    entry = journal.begin("wireguard_up", name=name)
    handset.su(broadcast_command(ACTION_UP, name))
    journal.done(entry)


def _vpn_consent_and_lockdown(handset: Handset, journal: Journal) -> None:
    entry = journal.begin("wireguard_appop", previous=appop_mode(handset))
    handset.sh(appops_command("allow"))
    journal.done(entry)
    for key, value in VPN_SETTINGS:
        entry = journal.begin("wireguard_setting", key=key, previous=read_setting(handset, "secure", key))
        handset.sh(put_setting_command(key, value))
        journal.done(entry)


def tunnel_qr_text(name: str, tunnel: str) -> str:
    """What the technician sees: the instructions and the tunnel as a terminal QR code."""
    import segno  # only an unrooted handset needs it

    qr = segno.make(tunnel, error="l", micro=False)
    lines = ["".join("  " if not cell else "██" for cell in row) for row in qr.matrix_iter(border=2)]
    return "\n".join([
        f"On the handset, in the WireGuard app: + > Scan from QR code, name it {name},",
        "allow the VPN connection, switch the tunnel on; then Settings > Network > VPN >",
        "WireGuard: Always-on VPN and Block connections without VPN.", *lines])


# --- undo (restore.py) ----------------------------------------------------------------------
def undo_tunnel(handset: Handset, undo: dict) -> None:
    path = tunnel_path(undo["name"])
    previous = undo.get("previous")
    if previous is None:
        handset.su(cmd(W("rm"), W("-f"), path))
        return
    folder = app_folder(handset)
    handset.push_bytes(bytes.fromhex(previous), STAGING, 0o600)
    handset.su(install_command(undo["name"], folder.uid, folder.context))


def undo_settings(handset: Handset, undo: dict) -> None:
    previous = undo.get("previous")
    if previous is None:
        handset.su(cmd(W("rm"), W("-f"), W(SETTINGS_FILE)))
        if undo.get("dir_existed") is False:
            handset.su(cmd(W("rmdir"), W(DATASTORE_DIR)), check=False)
    else:
        folder = app_folder(handset)
        handset.push_bytes(bytes.fromhex(previous), STAGING, 0o600)
        handset.su(settings_install_command(folder.uid, folder.context))
    handset.sh(cmd(W("am"), W("force-stop"), W(PACKAGE)))


def undo_up(handset: Handset, undo: dict) -> None:
    handset.su(broadcast_command(ACTION_DOWN, undo["name"]))


def undo_appop(handset: Handset, undo: dict) -> None:
    handset.sh(appops_command(undo.get("previous") or "default"))


def undo_setting(handset: Handset, undo: dict) -> None:
    key, previous = undo["key"], undo.get("previous")
    if read_setting(handset, "secure", key) != previous:
        handset.sh(put_setting_command(key, previous))
