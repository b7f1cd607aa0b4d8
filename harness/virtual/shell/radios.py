"""Radio switches: `svc wifi|data|bluetooth|power`, `cmd wifi set-wifi-enabled`,
`cmd bluetooth_manager enable|disable` and `cmd connectivity airplane-mode`, answering
as the handset's SDK does (AOSP frameworks/base/cmds/svc: the `svc` script hands wifi to
`cmd wifi` from Android 11 and bluetooth to `cmd bluetooth_manager` from Android 13;
ConnectivityService's shell command has airplane-mode from Android 9). Each change of a
switch fires its system event (shell/events.py); setting it to what it is fires nothing.
"""

from __future__ import annotations

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.events import fire_on_change
from harness.virtual.shell.interp import Shell, command

SVC_HELP = ("Available commands:\n    help\n    power\n    data\n    wifi\n    usb\n    nfc\n"
            "    bluetooth\n")
SVC_USAGE = {  # the svc script's texts (frameworks/base/cmds/svc/svc), printed with exit 1
    "wifi": "Control the Wi-Fi manager\n\nusage: svc wifi [enable|disable]\n         Turn Wi-Fi on or off.\n\n",
    "data": "Enable/Disable Mobile Data Connectivity\n\nusage: svc data [enable|disable]\n\n",
    "bluetooth": ("Control the Bluetooth manager\n\nusage: svc bluetooth [enable|disable]\n"
                  "         Turn Bluetooth on or off.\n\n"),
}
CONNECTIVITY_HELP = ("Connectivity service commands:\n  help\n    Print this help text.\n"
                     "  airplane-mode [enable|disable]\n    Turn airplane mode on or off.\n"
                     "  airplane-mode\n    Get airplane mode.\n")
SWITCHES = {  # name -> (global setting, event when on, event when off)
    "wifi": ("wifi_on", "wifi_enabled", "wifi_disabled"),
    "bluetooth": ("bluetooth_on", "bluetooth_enabled", "bluetooth_disabled"),
    "airplane": ("airplane_mode_on", "airplane_mode_on", "airplane_mode_off"),
    "data": ("mobile_data", "", ""),
}
BLUETOOTH_SVC_SDK = 26  # svc.jar's BluetoothCommand (2017)
BLUETOOTH_MANAGER_SDK = 33  # BluetoothShellCommand; the svc script forwards to it
WIFI_CMD_SDK = 30  # WifiShellCommand set-wifi-enabled; the svc script forwards to it
AIRPLANE_CMD_SDK = 28  # ConnectivityService.ShellCmd airplane-mode


def switch(sh: Shell, name: str, on: bool) -> None:
    """Set a radio switch (its global setting) and fire its event if it changed."""
    key, on_event, off_event = SWITCHES[name]
    table = sh.state.settings["global"]
    before = table.get(key, "0") not in ("0", "")
    table[key] = "1" if on else "0"
    if on_event:
        fire_on_change(sh, before, on, on_event, off_event)


@command("svc")
def svc(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    verb = args[1] if len(args) >= 2 else None
    if args[:1] == ["wifi"] or args[:1] == ["data"] or (
            args[:1] == ["bluetooth"] and sh.state.sdk >= BLUETOOTH_SVC_SDK):
        if verb in ("enable", "disable") and len(args) == 2:
            switch(sh, args[0], verb == "enable")
            return 0
        io.write(SVC_USAGE[args[0]])
        return 1
    if len(args) >= 3 and args[0] == "power" and args[1] == "stayon":
        sh.state.settings["global"]["stay_on_while_plugged_in"] = "7" if args[2] == "true" else "0"
        return 0
    io.write(SVC_HELP)
    return 0 if not args or args[0] == "help" else 1


def cmd_wifi(sh: Shell, args: list[str], io: IO) -> int | None:
    """`cmd wifi set-wifi-enabled enabled|disabled`; None: no such service on this SDK."""
    if sh.state.sdk < WIFI_CMD_SDK:
        return None
    if args[:1] == ["set-wifi-enabled"] and len(args) == 2 and args[1] in ("enabled", "disabled"):
        switch(sh, "wifi", args[1] == "enabled")
        return 0
    if args[:1] == ["status"]:
        on = sh.state.settings["global"].get("wifi_on") == "1"
        io.write("Wifi is enabled\n" if on else "Wifi is disabled\n")
        return 0
    raise Usage("Invalid args for set-wifi-enabled: must be either 'enabled' or 'disabled'"
                if args[:1] == ["set-wifi-enabled"] else f"Unknown command: {args[0] if args else ''}", 255)


def cmd_bluetooth_manager(sh: Shell, args: list[str], io: IO) -> int | None:
    """`cmd bluetooth_manager enable|disable`; None: no such service on this SDK."""
    if sh.state.sdk < BLUETOOTH_MANAGER_SDK:
        return None
    if args in (["enable"], ["disable"]):
        switch(sh, "bluetooth", args[0] == "enable")
        return 0
    raise Usage(f"Unknown command: {args[0] if args else ''}", 255)


def cmd_connectivity(sh: Shell, args: list[str], io: IO) -> int | None:
    """`cmd connectivity airplane-mode [enable|disable]`; None: no shell command on this SDK."""
    if sh.state.sdk < AIRPLANE_CMD_SDK:
        return None
    if args[:1] != ["airplane-mode"]:
        io.write(CONNECTIVITY_HELP)
        return 255 if args else 0
    if args[1:] in (["enable"], ["disable"]):
        switch(sh, "airplane", args[1] == "enable")
        return 0
    if not args[1:]:
        io.write("enabled\n" if sh.state.settings["global"].get("airplane_mode_on") == "1" else "disabled\n")
        return 0
    io.write(CONNECTIVITY_HELP)
    return 255
