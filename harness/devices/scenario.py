"""The firmware-audit scenarios on a handset: Settings opened, location, Wi-Fi, Bluetooth
and airplane mode switched with the commands each Android release has, each switch
journaled so restore puts it back; and, on the virtual handset, its hands (SIM, account).

Commands by release (sources and real outputs: tests/devices/samples/scenario-commands.txt):

    location       SDK 30+  cmd location set-location-enabled true|false
                   before   settings put secure location_mode 3|0
    wifi           all      svc wifi enable|disable (from SDK 30 the svc script runs
                            cmd wifi set-wifi-enabled enabled|disabled)
    bluetooth      SDK 33+  cmd bluetooth_manager enable|disable
                   SDK 26+  svc bluetooth enable|disable
                   before   none: the technician switches it
    airplane_mode  SDK 28+  cmd connectivity airplane-mode enable|disable
                   before   settings put global airplane_mode_on 1|0, then
                            am broadcast -a android.intent.action.AIRPLANE_MODE --ez state true|false
                            (Android 7+ refuses that broadcast from the shell: noted, not fatal)
    Settings       all      am start -a android.settings.SETTINGS

Every switch is read back from its setting (location_mode, wifi_on, bluetooth_on,
airplane_mode_on: 0 is off), waiting a little for radios that take their time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.devices import apps
from harness.devices.handset import Handset
from harness.devices.journal import Journal
from harness.devices.shellquote import W, Word, check_account_name, check_account_type, cmd
from harness.errors import DeviceCommandError

SETTINGS_ACTION = "android.settings.SETTINGS"
SWITCH_SETTINGS = {  # switch -> (namespace, key) of the setting that says whether it is on
    "location": ("secure", "location_mode"),
    "wifi": ("global", "wifi_on"),
    "bluetooth": ("global", "bluetooth_on"),
    "airplane_mode": ("global", "airplane_mode_on"),
}
LOCATION_CMD_SDK = 30
BLUETOOTH_MANAGER_SDK = 33
BLUETOOTH_SVC_SDK = 26
AIRPLANE_CMD_SDK = 28
SETTLE_SECONDS = 10.0
_FAILED = ("Exception occurred", "Unknown command", "Can't find service", "usage:", "Error:")
DEFAULT_ACCOUNT = "lab.tester@example.com"


def switch_commands(name: str, on: bool, sdk: int) -> list[str]:
    """The shell lines that switch `name` on or off on this release; [] when the shell
    cannot (the technician does it)."""
    if name == "location":
        if sdk >= LOCATION_CMD_SDK:
            return [cmd(W("cmd"), W("location"), W("set-location-enabled"), W("true" if on else "false"))]
        return [cmd(W("settings"), W("put"), W("secure"), W("location_mode"), W("3" if on else "0"))]
    if name == "wifi":
        return [cmd(W("svc"), W("wifi"), W("enable" if on else "disable"))]
    if name == "bluetooth":
        if sdk >= BLUETOOTH_MANAGER_SDK:
            return [cmd(W("cmd"), W("bluetooth_manager"), W("enable" if on else "disable"))]
        if sdk >= BLUETOOTH_SVC_SDK:
            return [cmd(W("svc"), W("bluetooth"), W("enable" if on else "disable"))]
        return []
    if name == "airplane_mode":
        if sdk >= AIRPLANE_CMD_SDK:
            return [cmd(W("cmd"), W("connectivity"), W("airplane-mode"), W("enable" if on else "disable"))]
        return [cmd(W("settings"), W("put"), W("global"), W("airplane_mode_on"), W("1" if on else "0")),
                cmd(W("am"), W("broadcast"), W("-a"), W("android.intent.action.AIRPLANE_MODE"),
                    W("--ez"), W("state"), W("true" if on else "false"))]
    raise ValueError(f"no switch {name!r}")


def read_switch(handset: Handset, name: str) -> bool | None:
    """Whether the switch is on now (its setting is not 0); None when the setting is unset."""
    namespace, key = SWITCH_SETTINGS[name]
    value = handset.sh(cmd(W("settings"), W("get"), W(namespace), W(key)), check=False).stdout.strip()
    if not value or value == "null" or not value.lstrip("-").isdigit():
        return None
    return value != "0"


def set_switch(handset: Handset, journal: Journal, name: str, on: bool, sdk: int,
               notes: list[str], sleep: Callable[[float], None] = time.sleep) -> bool:
    """Switch `name` on or off, journaled; False when this release has no shell command for
    it (ask the technician). Raises DeviceCommandError when the handset refuses."""
    lines = switch_commands(name, on, sdk)
    if not lines:
        return False
    previous = read_switch(handset, name)
    if previous is on:
        notes.append(f"{name}: already {'on' if on else 'off'}")
        return True
    entry = journal.begin("switch", name=name, previous=previous)
    for line in lines:
        result = handset.sh(line, check=False)
        refused = "Permission Denial" in result.output and "AIRPLANE_MODE" in line
        if refused:
            notes.append(f"{name}: the handset refused the AIRPLANE_MODE broadcast from the shell; "
                         "apps learn of the change at their next read of the setting")
        elif not result.ok or any(marker in result.output for marker in _FAILED):
            raise DeviceCommandError(f"switching {name} {'on' if on else 'off'} on {handset.serial} "
                                     f"failed: `{line}`: {result.output.strip()[:300]}",
                                     output=result.output, exit_status=result.exit_status)
    journal.done(entry)
    waited = 0.0
    while read_switch(handset, name) is not on and waited < SETTLE_SECONDS:
        sleep(0.5)
        waited += 0.5
    if read_switch(handset, name) is not on:
        raise DeviceCommandError(f"{name} did not switch {'on' if on else 'off'} on {handset.serial} "
                                 f"within {SETTLE_SECONDS:.0f} s (`{'; '.join(lines)}` ran without error)")
    notes.append(f"{name}: {'on' if on else 'off'} (`{'; '.join(lines)}`)")
    return True


def undo_switch(handset: Handset, undo: dict) -> None:
    """Restore: put a switch back as it was (nothing when unknown or already so)."""
    name, previous = undo.get("name"), undo.get("previous")
    if name not in SWITCH_SETTINGS or not isinstance(previous, bool):
        return
    if read_switch(handset, name) is previous:
        return
    sdk = handset.info.sdk
    for line in switch_commands(name, previous, sdk):
        handset.sh(line, check=False)


def open_settings(handset: Handset) -> None:
    """`am start -a android.settings.SETTINGS`: the Settings app in front."""
    apps.intent(handset, SETTINGS_ACTION)


# --- the virtual handset's hands (`labvirt`: only the virtual handset has it) ------------


def _labvirt(handset: Handset, *args: Word | str) -> str:
    result = handset.sh(cmd(W("labvirt"), *args), check=False)
    if not result.ok:
        raise DeviceCommandError(f"`labvirt` failed on {handset.serial} (exit {result.exit_status}): "
                                 f"{result.output.strip()[:300]}", output=result.output,
                                 exit_status=result.exit_status)
    return result.stdout.strip()


def virtual_sim(handset: Handset, insert: bool) -> str:
    """Insert or remove the virtual handset's SIM; its answer (`sim: inserted`)."""
    return _labvirt(handset, W("sim"), W("insert" if insert else "remove"))


def virtual_account(handset: Handset, sign_in: bool, name: str | None, kind: str) -> str:
    """Sign an account in or out on the virtual handset; its answer."""
    account = check_account_name(name or DEFAULT_ACCOUNT)
    if sign_in:
        return _labvirt(handset, W("account"), W("add"), account, check_account_type(kind))
    return _labvirt(handset, W("account"), W("remove"), account)
