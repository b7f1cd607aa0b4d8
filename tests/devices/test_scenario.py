"""The scenario commands the harness sends: exact shell lines per release (checked against
tests/devices/samples/scenario-commands.txt), and their effect on virtual handsets through
real adb: switches read back and journaled, restore puts them back, Settings opens, the
virtual handset's SIM and accounts change."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.lab import LabConfig
from harness.devices import Journal, open_device, restore, scenario
from harness.devices.shellquote import check_account_name, check_account_type
from harness.errors import DeviceCommandError, UnsafeValueError

SAMPLES = Path(__file__).parent / "samples" / "scenario-commands.txt"


@pytest.mark.parametrize(("name", "on", "sdk", "lines"), [
    ("location", True, 36, ["cmd location set-location-enabled true"]),
    ("location", False, 30, ["cmd location set-location-enabled false"]),
    ("location", True, 29, ["settings put secure location_mode 3"]),
    ("location", False, 21, ["settings put secure location_mode 0"]),
    ("wifi", True, 36, ["svc wifi enable"]),
    ("wifi", False, 21, ["svc wifi disable"]),
    ("bluetooth", True, 33, ["cmd bluetooth_manager enable"]),
    ("bluetooth", False, 36, ["cmd bluetooth_manager disable"]),
    ("bluetooth", True, 32, ["svc bluetooth enable"]),
    ("bluetooth", False, 26, ["svc bluetooth disable"]),
    ("bluetooth", True, 25, []),  # no shell command: the technician switches it
    ("airplane_mode", True, 28, ["cmd connectivity airplane-mode enable"]),
    ("airplane_mode", False, 35, ["cmd connectivity airplane-mode disable"]),
    ("airplane_mode", True, 27, ["settings put global airplane_mode_on 1",
                                 "am broadcast -a android.intent.action.AIRPLANE_MODE --ez state true"]),
])
def test_switch_commands_per_release(name, on, sdk, lines):
    assert scenario.switch_commands(name, on, sdk) == lines


def test_the_commands_are_those_of_the_reference_samples():
    text = SAMPLES.read_text()
    for line in ["set-location-enabled [--user <USER_ID>] true|false", "cmd location set-location-enabled false",
                 "cmd connectivity airplane-mode enable", "am start -a android.settings.SETTINGS",
                 "usage: svc wifi [enable|disable]", "svc bluetooth -> exec cmd bluetooth_manager enable|disable",
                 "settings put global airplane_mode_on 1 + am broadcast -a android.intent.action.AIRPLANE_MODE "
                 "--ez state true"]:
        assert line in text, line
    with pytest.raises(ValueError):
        scenario.switch_commands("nfc", True, 33)


@pytest.mark.parametrize("bad", ["a b", "x;reboot", "$(id)", "", "a\n", "x" * 129, None, 7])
def test_account_names_are_checked_before_any_shell(bad):
    with pytest.raises(UnsafeValueError):
        check_account_name(bad)


@pytest.mark.parametrize("bad", ["google", "com.google;id", "com..google", "", None])
def test_account_types_are_checked_before_any_shell(bad):
    with pytest.raises(UnsafeValueError):
        check_account_type(bad)


# --- on virtual handsets, through adb ----------------------------------------------------


@pytest.fixture
def handset_of(virtual_handset, adb_server, tmp_path):
    def make(name: str):
        vh = virtual_handset(name)
        lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
        handset = open_device(vh.serial, lab, client=adb_server.client)
        return vh, handset, Journal.create(handset.serial, tmp_path / "state")
    return make


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["vendor-1.0", "rooted-a16"])  # SDK 33 and 36
def test_switches_read_back_are_journaled_and_restored(handset_of, name):
    vh, handset, journal = handset_of(name)
    before = vh.state_dump()
    notes: list[str] = []
    for switch, on in [("location", False), ("wifi", False), ("bluetooth", False), ("airplane_mode", True)]:
        assert scenario.read_switch(handset, switch) is (not on)
        assert scenario.set_switch(handset, journal, switch, on, handset.info.sdk, notes)
        assert scenario.read_switch(handset, switch) is on
    assert scenario.set_switch(handset, journal, "wifi", False, handset.info.sdk, notes)  # already so
    assert notes[-1] == "wifi: already off"
    assert [(e.kind, e.undo["name"], e.undo["previous"]) for e in journal.entries] == [
        ("switch", "location", True), ("switch", "wifi", True), ("switch", "bluetooth", True),
        ("switch", "airplane_mode", False)]
    assert vh.shell("cmd connectivity airplane-mode")[0] == "enabled\n"
    result = restore(handset, journal)
    assert result.ok and len(result.restored) == 4
    assert vh.state_dump() == before
    assert scenario.read_switch(handset, "airplane_mode") is False


@pytest.mark.e2e
def test_android_11_takes_the_older_commands_and_refuses_the_newer(handset_of, tmp_path, monkeypatch):
    spec = (Path(scenario.__file__).parents[1] / "virtual" / "handsets" / "vendor-1.0.yaml").read_text()
    spec = spec.replace('release: "13"', 'release: "11"').replace("sdk: 33", "sdk: 30")
    spec = spec.replace("name: vendor-1.0", "name: vendor-a11")
    (tmp_path / "vendor-a11.yaml").write_text(spec)
    monkeypatch.chdir(tmp_path)
    vh, handset, journal = handset_of("vendor-a11.yaml")
    assert handset.info.sdk == 30
    notes: list[str] = []
    scenario.set_switch(handset, journal, "bluetooth", False, 30, notes)
    assert notes == ["bluetooth: off (`svc bluetooth disable`)"]
    scenario.set_switch(handset, journal, "location", False, 30, notes)
    assert vh.shell("settings get secure location_mode")[0] == "0\n"
    with pytest.raises(DeviceCommandError, match=r"switching bluetooth on .* `cmd bluetooth_manager enable`: "
                                                 r"cmd: Can't find service: bluetooth_manager"):
        scenario.set_switch(handset, journal, "bluetooth", True, 33, notes)  # a command of a later release
    assert restore(handset, journal).ok
    assert scenario.read_switch(handset, "bluetooth") is True and scenario.read_switch(handset, "location") is True


@pytest.mark.e2e
def test_settings_opens_and_the_virtual_hands_change_sim_and_accounts(handset_of):
    vh, handset, _ = handset_of("vendor-1.0")
    scenario.open_settings(handset)
    assert "com.android.settings" in vh.shell("dumpsys window | grep mCurrentFocus")[0]
    assert scenario.virtual_sim(handset, insert=False) == "sim: removed"
    assert vh.shell("getprop gsm.sim.state")[0] == "ABSENT\n"
    assert scenario.virtual_sim(handset, insert=True) == "sim: inserted"
    assert scenario.virtual_account(handset, True, None, "com.google") == (
        "account: added lab.tester@example.com (com.google)")
    assert scenario.virtual_account(handset, False, "lab.tester@example.com", "com.google") == (
        "account: removed lab.tester@example.com")
    with pytest.raises(UnsafeValueError):
        scenario.virtual_account(handset, True, "x; reboot", "com.google")
