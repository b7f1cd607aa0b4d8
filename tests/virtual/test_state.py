"""Handset state per release: the Android 15/16 handsets answer in those versions' formats
(getprop, the conscrypt APEX CA store, APEX modules, the Play system update)."""

from __future__ import annotations

import pytest
from support.shell_host import Host


@pytest.mark.parametrize(("name", "sdk", "release"), [
    ("vendor-1.0", 33, "13"), ("rooted-a14", 34, "14"), ("rooted-a15", 35, "15"), ("rooted-a16", 36, "16"),
])
def test_getprop_release_and_sdk(name: str, sdk: int, release: str) -> None:
    host = Host(name)
    props = {k: host.run(f"getprop {k}")[0].strip() for k in (
        "ro.build.version.sdk", "ro.build.version.release", "ro.build.version.release_or_codename")}
    assert props == {"ro.build.version.sdk": str(sdk), "ro.build.version.release": release,
                     "ro.build.version.release_or_codename": release}
    assert host.run("getprop ro.build.fingerprint")[0].split(":")[1].startswith(release + "/")


@pytest.mark.parametrize("name", ["rooted-a15", "rooted-a16"])
def test_new_releases_are_rooted_with_the_ca_store_in_the_conscrypt_apex(name: str) -> None:
    host = Host(name)
    assert host.run("su 0 id")[0].startswith("uid=0(root)")
    assert host.run("getprop ro.build.type")[0].strip() == "userdebug"
    listed = host.run("ls /apex/com.android.conscrypt/cacerts")[0].split()
    assert listed and all(n.endswith(".0") for n in listed)
    assert "com.android.conscrypt" in host.run("mount")[0]


@pytest.mark.parametrize(("name", "module", "version", "metadata"), [
    ("vendor-1.0", "com.android.art", 330090000, None),
    ("rooted-a14", "com.android.art", 340090000, None),
    ("rooted-a15", "com.google.android.art", 351010000, "2025-02-01"),
    ("rooted-a16", "com.google.android.art", 361010000, "2025-06-01"),
])
def test_apex_modules_and_play_system_update(name: str, module: str, version: int, metadata: str | None) -> None:
    host = Host(name)
    apex = host.run("pm list packages --apex-only --show-versioncode")[0].splitlines()
    assert f"package:{module} versionCode:{version}" in apex
    assert not any("art" in line for line in host.run("pm list packages")[0].splitlines())
    assert f"com.android.art@{version}" in host.run("ls /apex")[0].split()
    dump = host.run("dumpsys package com.google.android.modulemetadata")[0]
    if metadata is None:
        assert "Unable to find package" in dump
    else:
        assert f"    versionName={metadata}\n" in dump
