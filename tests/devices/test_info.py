"""DeviceInfo's Mainline module versions: the ART APEX and the Google Play system update
(the formats: `pm list packages --apex-only --show-versioncode [-f]`, `ls /apex`,
`dumpsys package com.google.android.modulemetadata`)."""

from pathlib import Path

from harness.devices.info import MARK, info_from, parse_modules

SAMPLES = Path(__file__).parent / "samples"
# line formats as Android Studio's profiler test and Tradefed's TestDevice parse them
APEX_LIST = ("package:com.google.android.media versionCode:351010000\n"
             "package:com.google.android.art versionCode:351010000\n"
             "package:com.google.android.conscrypt versionCode:351010000\n")
APEX_LIST_F = "package:/data/apex/active/com.android.art@340090000.apex=com.android.art versionCode:340090000\n"


def metadata_dump(version_name: str) -> str:
    """The real Android 14 `dumpsys package` sample with its package renamed (derived)."""
    text = (SAMPLES / "dumpsys-package-a14-emulator.txt").read_text()
    return text.replace("com.example.foodies", "com.google.android.modulemetadata").replace(
        "versionName=1.0", f"versionName={version_name}")


def test_art_module_and_play_system_update():
    assert parse_modules(APEX_LIST, "", metadata_dump("2025-02-01")) == (
        "com.google.android.art", 351010000, "2025-02-01")
    assert parse_modules(APEX_LIST_F, "", "Unable to find package: com.google.android.modulemetadata\n") == (
        "com.android.art", 340090000, None)


def test_apex_mount_when_pm_lists_nothing():
    listing = "com.android.art\ncom.android.art@361010000\ncom.android.conscrypt\ncom.android.conscrypt@361010000\n"
    assert parse_modules("", listing, "") == (None, 361010000, None)


def test_another_packages_dump_is_not_the_play_system_update():
    other = (SAMPLES / "dumpsys-package-a14-emulator.txt").read_text()  # com.example.foodies, versionName=1.0
    assert parse_modules("", "", other) == (None, None, None)


def test_info_from_carries_the_modules():
    probe = f"\n{MARK}\n".join(["\n6.1.99\n", "uid=2000(shell)\n", "\n", "\n", "\n", APEX_LIST, "com.android.art\n",
                       metadata_dump("2025-06-01")])
    info = info_from("x", {"ro.build.version.sdk": "36"}, probe)
    assert (info.art_module, info.art_version, info.play_system_update) == (
        "com.google.android.art", 351010000, "2025-06-01")
    assert info.as_dict()["art_version"] == 351010000
    old = info_from("x", {"ro.build.version.sdk": "33"}, f"\n{MARK}\n".join(["5.10", "uid=2000(shell)"]))
    assert (old.art_module, old.art_version, old.play_system_update) == (None, None, None)
