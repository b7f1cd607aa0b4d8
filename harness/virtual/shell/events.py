"""System events the shell's commands cause, delivered to the virtual apps that listen.

A state change that Android announces (a broadcast, or the Settings activity coming up)
is fired here once it happened: the app host hands it to every app with a send on it
(apps/behaviours.py EVENTS), and logcat shows the broadcast as ActivityManager would.
"""

from __future__ import annotations

from harness.virtual.shell.interp import Shell

# The Android broadcast behind each event (logged; apps get the event name).
ANNOUNCED_AS = {
    "sim_inserted": "android.intent.action.SIM_STATE_CHANGED",
    "sim_removed": "android.intent.action.SIM_STATE_CHANGED",
    "location_enabled": "android.location.MODE_CHANGED",
    "location_disabled": "android.location.MODE_CHANGED",
    "account_added": "android.accounts.LOGIN_ACCOUNTS_CHANGED",
    "account_removed": "android.accounts.LOGIN_ACCOUNTS_CHANGED",
    "wifi_enabled": "android.net.wifi.WIFI_STATE_CHANGED",
    "wifi_disabled": "android.net.wifi.WIFI_STATE_CHANGED",
    "bluetooth_enabled": "android.bluetooth.adapter.action.STATE_CHANGED",
    "bluetooth_disabled": "android.bluetooth.adapter.action.STATE_CHANGED",
    "airplane_mode_on": "android.intent.action.AIRPLANE_MODE",
    "airplane_mode_off": "android.intent.action.AIRPLANE_MODE",
    "settings_opened": "com.android.settings/.Settings resumed",
}


def fire(sh: Shell, event: str) -> list[str]:
    """Deliver `event` to the apps listening for it; return the packages it reached."""
    reached = sh.host.apps.broadcast(event)
    sh.state.logcat("I", 558, "ActivityManager",
                    f"{ANNOUNCED_AS.get(event, event)} ({event}) -> {', '.join(reached) or 'no receiver'}")
    return reached


def fire_on_change(sh: Shell, before: bool, after: bool, on_event: str, off_event: str) -> None:
    """Fire `on_event` or `off_event` when a switch changed from `before` to `after`."""
    if before != after:
        fire(sh, on_event if after else off_event)
