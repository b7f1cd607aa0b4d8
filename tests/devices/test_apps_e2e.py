"""App helpers and journaled app changes against a virtual handset."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from harness.config.lab import LabConfig, Profile
from harness.devices import apps, open_device, prepare, restore
from harness.errors import DeviceCommandError

pytestmark = pytest.mark.e2e
MANIFEST = ('<manifest package="org.lab.probe" android:versionCode="7" android:versionName="0.7.1">'
            '<uses-permission android:name="android.permission.READ_CONTACTS"/>'
            '<uses-permission android:name="android.permission.CAMERA"/>'
            '<activity android:name=".MainActivity"/></manifest>')


def make_apk(tmp_path: Path) -> Path:
    path = tmp_path / "probe.apk"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("AndroidManifest.xml", MANIFEST)
        zf.writestr("classes.dex", b"dex\n035\x00" + bytes(64))
    return path


@pytest.fixture
def vendor(virtual_handset, adb_server, tmp_path):
    vh = virtual_handset("vendor-1.0")
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    return vh, lab, open_device(vh.serial, lab, client=adb_server.client)


def test_profile_apps_installed_and_permissions_set_then_restored(vendor, tmp_path):
    vh, lab, handset = vendor
    before = vh.state_dump()
    profile = Profile.model_validate({"name": "p", "steps": [{"wait": "1s"}], "apps": [
        {"package": "org.lab.probe", "apk": str(make_apk(tmp_path)),
         "grant": ["android.permission.READ_CONTACTS"]},
        {"package": "com.vendor.weather", "grant": ["android.permission.ACCESS_FINE_LOCATION"],
         "revoke": ["android.permission.READ_PHONE_STATE"]},
    ]})
    prepared = prepare(handset, lab, profile, None, None, tmp_path / "cap", frida=False, canaries=False)
    assert [e.kind for e in prepared.journal.entries] == ["install", "permission", "permission", "permission"]
    assert apps.is_installed(handset, "org.lab.probe")
    assert apps.version(handset, "org.lab.probe") == apps.AppVersion("org.lab.probe", 7, "0.7.1")
    assert apps.uid(handset, "org.lab.probe") >= 10000
    probe = apps.dumpsys_package(handset, "org.lab.probe")
    assert probe.granted("android.permission.READ_CONTACTS") is True
    assert probe.granted("android.permission.CAMERA") is False
    weather = apps.dumpsys_package(handset, "com.vendor.weather")
    assert weather.granted("android.permission.ACCESS_FINE_LOCATION") is True
    assert weather.granted("android.permission.READ_PHONE_STATE") is False
    restore(handset, prepared.journal)
    assert not apps.is_installed(handset, "org.lab.probe")
    assert vh.state_dump() == before


def test_launch_pidof_foreground_input_monkey_stop_and_failures(vendor):
    vh, _, handset = vendor
    assert apps.pidof(handset, "com.vendor.weather") == []
    apps.launch(handset, "com.vendor.weather", ".MainActivity")
    pids = apps.wait_running(handset, "com.vendor.weather", 30)
    assert pids and all(p > 0 for p in pids)
    focus = apps.foreground(handset)
    assert focus is not None and focus.package == "com.vendor.weather"
    apps.tap(handset, 100, 200)
    apps.text(handset, "hello lab; $(reboot)")
    apps.keyevent(handset, "KEYCODE_BACK")
    result = apps.monkey(handset, "com.vendor.weather", 5, 42, 0)
    assert result.events_injected == 5 and result.exit_status == 0
    apps.stop(handset, "com.vendor.weather")
    assert apps.pidof(handset, "com.vendor.weather") == []
    assert vh.shell("getprop sys.boot_completed")[0].strip() == "1"  # no reboot slipped through
    # failures are DeviceCommandErrors with the handset's words
    with pytest.raises(DeviceCommandError, match="does not exist"):
        apps.launch(handset, "com.vendor.weather", ".NoSuchActivity")
    with pytest.raises(DeviceCommandError):
        apps.launch(handset, "org.not.installed")
    assert apps.version(handset, "org.not.installed") is None
    assert apps.uid(handset, "org.not.installed") is None


def test_text_reaches_the_handset_exactly_as_asked(vendor):
    """Issue 19: adbutils-style backslashes inside the single-quoted argument were typed as
    they are (a phone got `user\\@example\\.com`). The virtual handset decodes `input text`
    as Android does and logs each typed text under the tag VirtualInput."""
    vh, _, handset = vendor
    texts = ["user@example.com", "a b", "it's", "100%", "$HOME;reboot", "50%s off", "  two  spaces ",
             "back\\slash %%s"]
    for value in texts:
        apps.text(handset, value)
    out, _ = vh.shell("logcat -d -v brief")
    typed = [line.split("): ", 1)[1] for line in out.splitlines() if line.startswith("I/VirtualInput")]
    assert "".join(typed) == "".join(texts)
    assert vh.shell("getprop sys.boot_completed")[0].strip() == "1"  # no reboot slipped through
