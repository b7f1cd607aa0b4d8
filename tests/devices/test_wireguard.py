"""The WireGuard-app procedure's shell strings, against the reference
(../shared/android-reference/full-capture-wireguard.md: the broadcast, its receiver and
extra, the app op, the always-on settings, the tunnel folder), unsafe values refused
before any shell, and the DataStore flag written as the virtual app (and the real one) reads it."""

from __future__ import annotations

import shlex

import pytest

from harness.devices.handset import as_root
from harness.devices.info import RootMethod
from harness.devices.wireguard import (
    ACTION_DOWN,
    ACTION_UP,
    REMOTE_CONTROL_KEY,
    appops_command,
    broadcast_command,
    check_tunnel_name,
    install_command,
    path_listed,
    put_setting_command,
    tunnel_path,
    tunnel_qr_text,
    with_flag,
)
from harness.errors import UnsafeValueError
from harness.virtual.wireguard_app import read_preferences

CTX = "u:object_r:app_data_file:s0:c157,c256,c512,c768"


def test_broadcast_is_the_reference_intent_to_the_tunnel_manager_receiver():
    line = broadcast_command(ACTION_UP, "lab")
    assert shlex.split(line) == [
        "am", "broadcast", "-a", "com.wireguard.android.action.SET_TUNNEL_UP",
        "-n", "com.wireguard.android/.model.TunnelManager$IntentReceiver", "-e", "tunnel", "lab"]
    assert shlex.split(broadcast_command(ACTION_DOWN, "lab"))[3] == "com.wireguard.android.action.SET_TUNNEL_DOWN"
    # As root through su -c the receiver's $ stays literal.
    rooted = as_root(RootMethod.SU_C, line)
    assert shlex.split(shlex.split(rooted)[2])[5] == "com.wireguard.android/.model.TunnelManager$IntentReceiver"


def test_consent_and_always_on_lockdown_are_the_reference_commands():
    assert appops_command("allow") == "appops set com.wireguard.android ACTIVATE_VPN allow"
    assert put_setting_command("always_on_vpn_app", "com.wireguard.android") == \
        "settings put secure always_on_vpn_app com.wireguard.android"
    assert put_setting_command("always_on_vpn_lockdown", "1") == "settings put secure always_on_vpn_lockdown 1"
    assert put_setting_command("always_on_vpn_lockdown", None) == "settings delete secure always_on_vpn_lockdown"


def test_tunnel_goes_into_the_app_files_folder_with_its_owner_and_context():
    assert tunnel_path("lab") == "/data/data/com.wireguard.android/files/lab.conf"
    assert [shlex.split(c) for c in install_command("lab", "10157", CTX).split("; ")] == [
        ["cp", "/data/local/tmp/lab-wireguard.tmp", "/data/data/com.wireguard.android/files/lab.conf"],
        ["chown", "10157:10157", "/data/data/com.wireguard.android/files/lab.conf"],
        ["chmod", "600", "/data/data/com.wireguard.android/files/lab.conf"],
        ["chcon", CTX, "/data/data/com.wireguard.android/files/lab.conf"],
        ["rm", "-f", "/data/local/tmp/lab-wireguard.tmp"]]


@pytest.mark.parametrize("bad", ["", "a" * 16, "../x", "a b", "x;reboot", "t\n", "$(id)"])
def test_unsafe_tunnel_names_refused(bad):
    with pytest.raises(UnsafeValueError):
        check_tunnel_name(bad)
    with pytest.raises(UnsafeValueError):
        broadcast_command(ACTION_UP, bad)


@pytest.mark.parametrize(("uid", "ctx"), [("10157; reboot", CTX), ("10157", "u:object_r:x:s0; reboot"),
                                          ("root", CTX), ("10157", "")])
def test_unsafe_owner_or_context_refused(uid, ctx):
    with pytest.raises(UnsafeValueError):
        install_command("lab", uid, ctx)


def test_other_settings_and_actions_refused():
    with pytest.raises(UnsafeValueError):
        put_setting_command("adb_enabled", "1")
    with pytest.raises(UnsafeValueError):
        put_setting_command("always_on_vpn_app", "x; reboot")
    with pytest.raises(UnsafeValueError):
        broadcast_command("com.wireguard.android.action.REFRESH_TUNNEL_STATES", "lab")
    with pytest.raises(UnsafeValueError):
        appops_command("allow; reboot")


def test_remote_control_flag_set_and_other_preferences_kept():
    other = with_flag(b"", "dark_theme", True)
    data = with_flag(with_flag(other, REMOTE_CONTROL_KEY, False), REMOTE_CONTROL_KEY, True)
    assert read_preferences(data) == {"dark_theme": True, REMOTE_CONTROL_KEY: True}
    assert read_preferences(with_flag(b"", REMOTE_CONTROL_KEY, False)) == {REMOTE_CONTROL_KEY: False}
    with pytest.raises(ValueError):
        with_flag(b"\xff\xff", REMOTE_CONTROL_KEY, True)


def test_qr_for_the_technician_holds_the_instructions_and_a_code():
    text = tunnel_qr_text("lab", "[Interface]\nPrivateKey = x\n")
    assert "Scan from QR code" in text and "Block connections without VPN" in text
    assert sum(1 for line in text.splitlines() if "██" in line) >= 21  # a version-1 code at least


def test_pm_path_output_says_whether_the_app_is_installed():
    """The reference's `pm path` lines (pm-list-packages.txt): base.apk, then splits; a
    package that is not installed prints nothing (exit 1)."""
    base = "package:/data/app/~~JqssgF-sdhI3iEpU-lY8kg==/com.wireguard.android-2H0efwML7LMn_1G9pgMV6w==/base.apk"
    split = base.replace("base.apk", "split_config.arm64_v8a.apk")
    assert path_listed(base + "\n")
    assert path_listed(f"{base}\r\n{split}\r\n")
    assert path_listed("package:/system/app/WireGuard/WireGuard.apk\n")
    assert not path_listed("")
    assert not path_listed("Error: package com.wireguard.android not found\n")
