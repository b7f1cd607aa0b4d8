"""Parsers against real handset output (samples from shared/android-reference)."""

from pathlib import Path

import pytest

from harness.devices.handset import RootMethod
from harness.devices.info import info_from, parse_getprop, root_from_ids, split_probe
from harness.devices.parsers import (
    am_start_error,
    parse_broadcast_result,
    parse_content_rows,
    parse_current_focus,
    parse_dumpsys_package,
    parse_monkey_events,
    parse_pidof,
    parse_pm_list,
    parse_resumed_activity,
)

SAMPLES = Path(__file__).parent / "samples"


def test_getprop_full_listing_with_multiline_value():
    props = parse_getprop((SAMPLES / "getprop-full-oneplus-a11.txt").read_text())
    assert props["ro.build.version.sdk"] == "30"
    assert props["ro.product.model"] == "BE2028"
    assert props["ro.build.version.security_patch"] == "2023-07-05"
    assert props["persist.sys.boot.reason.history"] == (
        "reboot,ota,1691858645\nreboot,unattended,ota_update,1691858601\nreboot,ota,1691857091")
    assert props["persist.sys.bootloader"] == "yes"
    assert props["DEVICE_PROVISIONED"] == "1"


def test_getprop_emulator_and_old_sort_order():
    props = parse_getprop((SAMPLES / "getprop-full-emulator-a14.txt").read_text())
    assert props["ro.build.version.sdk"] == "34"
    assert props["ro.product.cpu.abi"] == "x86_64"
    assert props["persist.sys.boot.reason"] == ""
    old = parse_getprop((SAMPLES / "getprop-full-nexus5-a51-excerpt.txt").read_text())
    assert old["ro.boot.hardware"] == "hammerhead"
    assert old["ro.boot.hardware.sku"] == "D820"
    assert old["ro.build.fingerprint"] == "google/hammerhead/hammerhead:5.1/LMY06B/1666863:userdebug/dev-keys"


SHELL_ID = ("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log) "
            "context=u:r:shell:s0")
SU0_ID = "uid=0(root) gid=0(root) groups=0(root),1004(input) context=u:r:su:s0"
MAGISK_ID = "uid=0(root) gid=0(root) groups=0(root) context=u:r:magisk:s0"


@pytest.mark.parametrize(("shell_id", "su_c", "su_0", "expected"), [
    (SHELL_ID, "", SU0_ID, RootMethod.SU_0),  # AOSP su: "su: invalid uid/gid '-c'" on stderr
    (SHELL_ID, MAGISK_ID, "", RootMethod.SU_C),
    (SHELL_ID, "", "", RootMethod.NONE),  # "/system/bin/sh: su: not found"
    ("uid=0(root) gid=0(root)", "", "", RootMethod.ADBD),
])
def test_root_detection(shell_id, su_c, su_0, expected):
    assert root_from_ids(shell_id, su_c, su_0) == expected


def test_info_from_probe():
    props = parse_getprop((SAMPLES / "getprop-full-emulator-a14.txt").read_text())
    probe = "\n".join(["6.1.23-android14-4-00257-g7e35917775b8-ab9964412", "@@lab-probe@@", SHELL_ID,
                       "@@lab-probe@@", "@@lab-probe@@", SU0_ID, "@@lab-probe@@", "1234", "17.26.2"])
    info = info_from("emulator-5554", props, probe)
    assert info.sdk == 34 and info.model == "sdk_gphone64_x86_64"
    assert info.fingerprint == "google/sdk_gphone64_x86_64/emu64xa:14/UE1A.230829.050/12077443:userdebug/dev-keys"
    assert info.rooted and info.root_method == "su 0"
    assert info.kernel.startswith("6.1.23") and info.frida_server_version == "17.26.2"
    assert split_probe("a\n@@lab-probe@@\nb") == ["a", "b"]


def test_dumpsys_package_android14():
    dump = parse_dumpsys_package((SAMPLES / "dumpsys-package-a14-emulator.txt").read_text(),
                                 "com.example.foodies")
    assert dump.uid == 10197 and dump.version_code == 1 and dump.version_name == "1.0"
    assert dump.runtime_permissions["android.permission.READ_CONTACTS"] is False
    assert dump.install_permissions["android.permission.BLUETOOTH"] is True
    assert dump.granted("android.permission.CAMERA") is False
    assert dump.granted("android.permission.BLUETOOTH") is True
    assert dump.granted("android.permission.NOT_REQUESTED") is None
    assert "android.permission.RECORD_AUDIO" in dump.requested_permissions


def test_dumpsys_package_samsung_picks_the_named_block():
    text = (SAMPLES / "dumpsys-package-samsung.txt").read_text()
    first = parse_dumpsys_package(text, "com.samsung.android.provider.filterprovider")
    assert first.uid == 1000 and first.version_code == 500700000 and first.version_name == "5.0.07"
    second = parse_dumpsys_package(text, "com.sec.android.app.DataCreate")
    assert second.uid == 10143 and second.version_code == 1
    assert second.granted("android.permission.WRITE_SMS") is True
    assert second.granted("android.permission.READ_SMS") is False
    assert parse_dumpsys_package(text, "com.not.there") is None


def test_pm_list_variants():
    lines = "\n".join([
        "package:/data/app/~~5FxNFD0WV2bcYK9XftujYA==/com.google.android.youtube-kUnD4xZm-tSfwtjb1MQorQ==/base.apk=com.google.android.youtube versionCode:1561191873 uid:10181",
        "package:/system/framework/framework-res.apk=android",
        "package:com.oneplus.calculator uid:10147",
        "package:com.android.chrome",
    ])
    listed = parse_pm_list(lines)
    assert listed[0].package == "com.google.android.youtube" and listed[0].uid == 10181
    assert listed[0].path.endswith("==/base.apk") and listed[0].version_code == 1561191873
    assert listed[1].package == "android"
    assert listed[2].uid == 10147 and listed[3].package == "com.android.chrome"


def test_pidof():
    assert parse_pidof("5081\n") == [5081]
    assert parse_pidof("1 22 333") == [1, 22, 333]
    assert parse_pidof("") == []
    assert parse_pidof("pidof: not found") == []


def test_current_focus():
    text = ("  mCurrentFocus=null\n  mCurrentFocus=null\n"
            "  mCurrentFocus=Window{2fea95 u0 com.YostarJP.BlueArchive/com.yostarjp.bluearchive.MxUnityPlayerActivity}\n")
    focus = parse_current_focus(text)
    assert focus.package == "com.YostarJP.BlueArchive"
    assert focus.activity == "com.yostarjp.bluearchive.MxUnityPlayerActivity"
    assert parse_current_focus("mCurrentFocus=Window{85a52f2 u0 StatusBar}").activity is None
    assert parse_current_focus("  mCurrentFocus=null\n").package is None
    assert parse_current_focus("nothing") is None
    resumed = parse_resumed_activity(
        "topResumedActivity=ActivityRecord{d9b8281 u0 tv.danmaku.bili/.MainActivityV2 t57}")
    assert resumed.package == "tv.danmaku.bili" and resumed.activity == ".MainActivityV2"


def test_am_start_and_monkey_outputs():
    ok = "Starting: Intent { cmp=com.khizirfarrukh.pookiebudget/.MainActivity }\n"
    assert am_start_error(ok) is None
    bad = ("Starting: Intent { cmp=com.rctzhihudaily/.MainActivity }\nError type 3\n"
           "Error: Activity class {com.rctzhihudaily/com.rctzhihudaily.MainActivity} does not exist.\n")
    assert "does not exist" in am_start_error(bad)
    assert parse_monkey_events("Events injected: 1\n## Network stats: elapsed time=4ms") == 1
    assert parse_monkey_events("** No activities found to run, monkey aborted.") is None


def test_broadcast_and_content_rows():
    assert parse_broadcast_result('Broadcasting: Intent { act=clipper.get }\n'
                                  'Broadcast completed: result=-1, data="hello, world"') == (-1, "hello, world")
    assert parse_broadcast_result("Broadcast completed: result=0") == (0, None)
    rows = parse_content_rows("Row: 0 _id=13, name=logging_id2, value=-1fccbaa546705b05\n"
                              "Row: 1 _id=14, body=a, b, c=d, read=1")
    assert rows[0] == {"_id": "13", "name": "logging_id2", "value": "-1fccbaa546705b05"}
    assert rows[1]["_id"] == "14" and rows[1]["read"] == "1"
    assert parse_content_rows("No result found.") == []
