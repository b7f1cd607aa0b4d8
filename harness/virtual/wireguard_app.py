"""The virtual handset's WireGuard app (`com.wireguard.android`), answering the real app's
procedure over adb (WireGuard/wireguard-android):

- tunnels are `<name>.conf` files (wg-quick syntax) in /data/data/com.wireguard.android/files
  (FileConfigStore);
- `am broadcast -a com.wireguard.android.action.SET_TUNNEL_UP|SET_TUNNEL_DOWN -e tunnel NAME
  -n com.wireguard.android/.model.TunnelManager$IntentReceiver` is honoured only when the
  sender holds com.wireguard.android.permission.CONTROL_TUNNELS (root and system hold every
  permission; the shell user does not) and the app's "Allow remote control apps" setting
  (`allow_remote_control_intents` in its DataStore files/datastore/settings.preferences_pb)
  is on; REFRESH_TUNNEL_STATES is processed either way;
- the VPN starts only with the user's consent: app op ACTIVATE_VPN allowed
  (`appops set com.wireguard.android ACTIVATE_VPN allow`);
- always-on VPN with lockdown (`settings put secure always_on_vpn_app com.wireguard.android`,
  `always_on_vpn_lockdown 1`) keeps the apps in the handset namespace with the tunnel down,
  where they have no route out; it takes effect at the next app start, tunnel change or boot
  (whether a shell write takes effect at once on a real phone is not established). At boot an
  always-on app brings its last tunnel up again.

Bringing a tunnel up runs wireguard-go in the handset namespace (handset_network.py). On a
machine that cannot make that namespace (HandsetNetwork.reason) the handset is a phone
without the app: `pm path` / `pm list packages` do not list it, so `proxy.mode: auto`
resolves to the proxy setting there (harness/run/capture_choice.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.virtual.fs import FsError
from harness.virtual.handset_network import HandsetNetwork
from harness.virtual.netns import NetnsError
from harness.virtual.wg_client import TunnelConfigError, parse_wg_quick

PACKAGE = "com.wireguard.android"
RECEIVER_CLASS = "com.wireguard.android.model.TunnelManager$IntentReceiver"
RECEIVERS = (f"{PACKAGE}/.model.TunnelManager$IntentReceiver", f"{PACKAGE}/{RECEIVER_CLASS}")
ACTION_UP = "com.wireguard.android.action.SET_TUNNEL_UP"
ACTION_DOWN = "com.wireguard.android.action.SET_TUNNEL_DOWN"
ACTION_REFRESH = "com.wireguard.android.action.REFRESH_TUNNEL_STATES"
ACTIONS = (ACTION_UP, ACTION_DOWN, ACTION_REFRESH)
PERMISSION = "com.wireguard.android.permission.CONTROL_TUNNELS"
DATA_DIR = f"/data/data/{PACKAGE}"
FILES_DIR = f"{DATA_DIR}/files"
SETTINGS_FILE = f"{FILES_DIR}/datastore/settings.preferences_pb"
REMOTE_CONTROL_KEY = "allow_remote_control_intents"
APP_DATA_LABEL = "u:object_r:app_data_file:s0"
_TUNNEL_NAME = re.compile(r"^[a-zA-Z0-9_=+.-]{1,15}$")  # the app's Tunnel.NAME_PATTERN


def read_preferences(data: bytes) -> dict[str, bool]:
    """The boolean entries of a Preferences DataStore file (PreferenceMap protobuf)."""
    out: dict[str, bool] = {}
    for field, value in _fields(data):
        if field != 1 or not isinstance(value, bytes):
            continue
        entry = dict(_fields(value))
        key, pref = entry.get(1), entry.get(2)
        if isinstance(key, bytes) and isinstance(pref, bytes):
            flag = dict(_fields(pref)).get(1)
            if isinstance(flag, int):
                out[key.decode("utf-8", "replace")] = bool(flag)
    return out


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((field, value))
        elif wire == 2:
            length, i = _varint(data, i)
            out.append((field, data[i:i + length]))
            i += length
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError("not a preferences file")
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


class WireGuardApp:
    def __init__(self, state: Any, network: HandsetNetwork, move_apps: Callable[[], None]) -> None:
        self.state = state
        self.network = network
        self._move_apps = move_apps
        self.up_tunnel: str | None = None
        self.last_tunnel: str | None = None  # restored at boot by an always-on app
        if network.reason is not None:  # this machine cannot make the tunnel: a phone without the app
            state.packages.pop(PACKAGE, None)
        self._ensure_data_dir()

    @property
    def installed(self) -> bool:
        return PACKAGE in self.state.packages

    def _ensure_data_dir(self) -> None:
        if not self.installed:
            return
        uid = self.state.packages[PACKAGE].uid
        fs = self.state.files
        if fs.lookup(FILES_DIR) is None:
            fs.mkdir(FILES_DIR, 0o771, parents=True, uid=uid, gid=uid, label=APP_DATA_LABEL)
            for d in (DATA_DIR, FILES_DIR):
                node = fs.lookup(d)
                node.uid = node.gid = uid

    # --- what the app reads ------------------------------------------------------------
    def remote_control_allowed(self) -> bool:
        try:
            return read_preferences(self.state.files.read(SETTINGS_FILE)).get(REMOTE_CONTROL_KEY, False)
        except (FsError, ValueError):
            return False

    def vpn_consented(self) -> bool:
        return self.state.appops.get((PACKAGE, "android:activate_vpn")) == "allow"

    def lockdown(self) -> bool:
        secure = self.state.settings["secure"]
        return secure.get("always_on_vpn_app") == PACKAGE and secure.get("always_on_vpn_lockdown") == "1"

    def always_on(self) -> bool:
        return self.state.settings["secure"].get("always_on_vpn_app") == PACKAGE

    def tunnel_text(self, name: str) -> str | None:
        try:
            return self.state.files.read(f"{FILES_DIR}/{name}.conf").decode("utf-8")
        except (FsError, UnicodeDecodeError):
            return None

    # --- the receiver ------------------------------------------------------------------
    def handles(self, action: str | None, component: str | None) -> bool:
        return self.installed and action in ACTIONS and (component is None or component in RECEIVERS)

    def receive(self, action: str, component: str | None, extras: dict[str, str], caller_uid: int) -> str:
        """One broadcast; returns what happened (also in logcat under WireGuard/TunnelManager)."""
        if action == ACTION_REFRESH:
            return "refreshed"
        if component is None:
            return self._log("W", "implicit broadcast not delivered to a manifest receiver")
        if caller_uid not in (0, 1000):
            return self._log("W", f"Permission Denial: broadcasting Intent {{ act={action} }} from uid "
                                  f"{caller_uid} requires {PERMISSION}")
        if not self.remote_control_allowed():
            return self._log("W", "remote control intents are disabled in the app's settings")
        name = extras.get("tunnel")
        if not name or not _TUNNEL_NAME.fullmatch(name):
            return self._log("W", f"no such tunnel {name!r}")
        if action == ACTION_DOWN:
            if self.up_tunnel == name:
                self.set_down()
            return self._log("I", f"tunnel {name} down")
        return self.set_up(name)

    def set_up(self, name: str) -> str:
        text = self.tunnel_text(name)
        if text is None:
            return self._log("W", f"no such tunnel {name!r}")
        if not self.vpn_consented():
            return self._log("E", f"tunnel {name}: VPN permission not granted (ACTIVATE_VPN)")
        try:
            config = parse_wg_quick(text)
            self.network.up(config)
        except (TunnelConfigError, NetnsError, OSError) as e:
            self.network.down()
            self.sync()
            return self._log("E", f"tunnel {name} not started: {e}")
        self.up_tunnel = self.last_tunnel = name
        self._move_apps()
        return self._log("I", f"tunnel {name} up")

    def set_down(self) -> None:
        self.up_tunnel = None
        self.network.down()
        self.sync(force_move=True)

    def sync(self, force_move: bool = False) -> None:
        """Contained while a tunnel is up or lockdown is on; the apps follow a change."""
        want = self.network.tunnel_up or (self.lockdown() and self.network.reason is None)
        if want == self.network.contained:
            if force_move:
                self._move_apps()
            return
        if want:
            self.network.contain()
            self._move_apps()
            return
        old = self.network.detach()
        self._move_apps()  # out first: deleting the namespace kills what is still in it
        if old is not None:
            old.delete()

    def boot(self) -> None:
        """At boot an always-on VPN app brings its last tunnel up; lockdown holds meanwhile."""
        self.up_tunnel = None
        self.network.down()
        self.sync()
        if self.always_on() and self.last_tunnel is not None:
            self.set_up(self.last_tunnel)

    def close(self) -> None:
        self.up_tunnel = None
        self.network.close()

    def _log(self, level: str, message: str) -> str:
        logcat = getattr(self.state, "logcat", None)
        if logcat is not None:
            logcat(level, 0, "WireGuard/TunnelManager", message)
        return message
