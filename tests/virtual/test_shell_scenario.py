"""The scenario commands of the virtual shell: radio switches, location, Settings, the
technician's `labvirt`; outputs and exit codes per SDK, state changes and the events fired."""

from __future__ import annotations

import pytest
from support.shell_host import Host

from harness.virtual.apps.answers import StateAnswers


@pytest.fixture
def host() -> Host:
    return Host("vendor-1.0")  # SDK 33


def at_sdk(sdk: int) -> Host:
    host = Host("vendor-1.0")
    host.state.sdk = sdk
    return host


def test_svc_wifi_switches_wifi_and_fires_only_on_a_change(host):
    assert host.run("svc wifi disable") == ("", "", 0)
    assert host.state.settings["global"]["wifi_on"] == "0"
    assert host.run("svc wifi disable") == ("", "", 0)  # already off: no event
    assert host.run("svc wifi enable") == ("", "", 0)
    assert host.state.settings["global"]["wifi_on"] == "1"
    assert host.apps.events == ["wifi_disabled", "wifi_enabled"]
    out, _, code = host.run("svc wifi on")  # the svc script's usage, verbatim (scenario-commands.txt)
    assert (out, code) == ("Control the Wi-Fi manager\n\nusage: svc wifi [enable|disable]\n"
                           "         Turn Wi-Fi on or off.\n\n", 1)


@pytest.mark.parametrize(("sdk", "svc_code", "manager"), [
    (36, 0, ("", "", 0)), (33, 0, ("", "", 0)),
    (32, 0, ("", "cmd: Can't find service: bluetooth_manager\n", 20)),
    (25, 1, ("", "cmd: Can't find service: bluetooth_manager\n", 20)),
])
def test_bluetooth_by_sdk(sdk, svc_code, manager):
    host = at_sdk(sdk)
    assert host.run("svc bluetooth disable")[2] == svc_code  # svc.jar has bluetooth from Android 8
    assert host.state.settings["global"]["bluetooth_on"] == ("0" if svc_code == 0 else "1")
    host.state.settings["global"]["bluetooth_on"] = "0"
    assert host.run("cmd bluetooth_manager enable") == manager
    assert host.apps.events[-1:] == (["bluetooth_enabled"] if manager[2] == 0 else
                                     ["bluetooth_disabled"] if svc_code == 0 else [])


def test_airplane_mode_through_connectivity(host):
    assert host.run("cmd connectivity airplane-mode") == ("disabled\n", "", 0)
    assert host.run("cmd connectivity airplane-mode enable") == ("", "", 0)
    assert host.run("cmd connectivity airplane-mode") == ("enabled\n", "", 0)
    assert host.state.settings["global"]["airplane_mode_on"] == "1"
    out, _, code = host.run("cmd connectivity airplane-mode on")
    assert code == 255 and out.startswith("Connectivity service commands:\n")
    assert host.run("cmd connectivity airplane-mode disable")[2] == 0
    assert host.apps.events == ["airplane_mode_on", "airplane_mode_off"]
    old = at_sdk(27)
    assert old.run("cmd connectivity airplane-mode enable") == (
        "", "cmd: Can't find service: connectivity\n", 20)


def test_airplane_mode_before_android_9_is_a_setting_and_a_broadcast():
    old = at_sdk(27)
    old.run("settings put global airplane_mode_on 1")
    assert old.apps.events == []  # the setting alone tells nobody
    out, _, code = old.run("am broadcast -a android.intent.action.AIRPLANE_MODE --ez state true")
    assert code == 0 and out.endswith("Broadcast completed: result=0\n")
    assert old.apps.events == ["airplane_mode_on"]


def test_location_switch_from_android_12(host):
    host.state.sdk = 31
    assert host.run("cmd location is-location-enabled") == ("true\n", "", 0)
    assert host.run("cmd location set-location-enabled false") == ("", "", 0)
    assert host.state.settings["secure"]["location_mode"] == "0"
    assert host.run("cmd location is-location-enabled --user 0") == ("false\n", "", 0)
    assert host.run("cmd location set-location-enabled true --user 0") == ("", "", 0)
    assert host.state.settings["secure"]["location_mode"] == "3"
    assert host.apps.events == ["location_disabled", "location_enabled"]
    _, err, code = host.run("cmd location set-location-enabled")
    assert code == 255 and "Argument expected" in err


def test_location_switch_in_android_11_and_before():
    r = at_sdk(30)  # set-location-enabled [--user N] true|false; no is-location-enabled yet
    assert r.run("cmd location set-location-enabled --user 0 false") == ("", "", 0)
    assert r.state.settings["secure"]["location_mode"] == "0"
    assert r.run("cmd location is-location-enabled") == ("Unknown command: is-location-enabled\n", "", 255)
    q = at_sdk(29)
    assert q.run("cmd location set-location-enabled false") == (
        "Unknown command: set-location-enabled\n", "", 255)
    assert q.run("settings put secure location_mode 0") == ("", "", 0)
    assert q.run("settings put secure location_mode 3") == ("", "", 0)
    assert q.apps.events == ["location_disabled", "location_enabled"]


def test_location_off_hides_the_last_known_location(host):
    host.state.location = {"provider": "gps", "lat": 12.97, "lon": 77.59}
    answers = StateAnswers(host.state, lambda h, p: None, lambda p: [], lambda p: None)
    assert answers.answer("com.vendor.services", "location", None) == {"lat": 12.97, "lon": 77.59}
    host.run("cmd location set-location-enabled false")
    assert answers.answer("com.vendor.services", "location", None) is None


def test_opening_settings_starts_the_settings_app_and_fires_settings_opened(host):
    out, err, code = host.run("am start -a android.settings.SETTINGS")
    assert (out, err, code) == ("Starting: Intent { act=android.settings.SETTINGS }\n", "", 0)
    assert host.state.foreground[0] == "com.android.settings"
    assert host.apps.pid_of("com.android.settings") is not None
    assert host.apps.events == ["settings_opened"]
    out, _, code = host.run("am start -a android.settings.WIFI_SETTINGS")
    assert code == 0 and out.startswith("Starting: Intent { act=android.settings.WIFI_SETTINGS }\n")
    assert host.apps.events == ["settings_opened", "settings_opened"]
    out, err, code = host.run("am start -a android.intent.action.NOWHERE")
    assert code == 1 and "unable to resolve" in err and host.apps.events[-1] == "settings_opened"


def test_labvirt_takes_the_sim_out_and_puts_it_back(host):
    answers = StateAnswers(host.state, lambda h, p: None, lambda p: [], lambda p: None)
    assert host.run("labvirt sim status") == ("present\n", "", 0)
    assert host.run("labvirt sim remove") == ("sim: removed\n", "", 0)
    assert host.run("labvirt sim remove") == ("sim: no SIM to remove\n", "", 0)
    assert host.run("getprop gsm.sim.state")[0] == "ABSENT\n"
    assert host.run("getprop gsm.sim.operator.numeric")[0] == "\n"
    assert [answers.answer("p.k", "id", k) for k in ("imsi", "iccid", "phone")] == [None] * 3
    assert answers.answer("p.k", "id", "imei") == "867432055814427"  # the handset's, not the SIM's
    assert host.run("labvirt sim insert") == ("sim: inserted\n", "", 0)
    assert host.run("getprop gsm.sim.state")[0] == "LOADED\n"
    assert host.run("getprop gsm.sim.operator.numeric")[0] == "40445\n"
    assert answers.answer("p.k", "id", "imsi") == "404450123456789"
    assert answers.answer("p.k", "id", "iccid") == "8991045012345678901"
    assert host.apps.events == ["sim_removed", "sim_inserted"]


def test_labvirt_signs_accounts_in_and_out(host):
    assert host.run("labvirt account add lab.tester@example.in") == (
        "account: added lab.tester@example.in (com.google)\n", "", 0)
    assert host.run("labvirt account add lab.tester@example.in")[0] == (
        "account: lab.tester@example.in is already there\n")
    assert host.run("labvirt account list")[0] == (
        "vendor.user@example.in com.vendor.account\nlab.tester@example.in com.google\n")
    assert host.run("labvirt account remove lab.tester@example.in")[0] == "account: removed lab.tester@example.in\n"
    assert host.apps.events == ["account_added", "account_removed"]


@pytest.mark.parametrize("line", ["labvirt", "labvirt sim", "labvirt sim eject", "labvirt account add",
                                  "labvirt account remove a b", "labvirt reboot"])
def test_labvirt_usage(host, line):
    _, err, code = host.run(line)
    assert code == 1 and err.startswith("usage: labvirt sim insert|remove|status")
    assert host.apps.events == []
