"""Every value that reaches a handset shell is validated and quoted."""

import shlex

import pytest

from harness.devices import shellquote
from harness.devices.shellquote import (
    W,
    check_adb_socket,
    check_package,
    check_path,
    check_permission,
    cmd,
    input_text_arg,
)
from harness.errors import UnsafeValueError

HOSTILE = ["x;reboot", "com.a.b;reboot", "com.a.b && rm -rf /", "$(reboot)", "`id`", "com.a.b\nreboot",
           "com.a.b|sh", "../../etc", "com.a.b'", "-rf", ""]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_packages_refused(value):
    with pytest.raises(UnsafeValueError):
        check_package(value)


@pytest.mark.parametrize("value", ["android.permission.CAMERA;reboot", "x y", "$(id)", ""])
def test_hostile_permissions_refused(value):
    with pytest.raises(UnsafeValueError):
        check_permission(value)


@pytest.mark.parametrize("value", ["relative/path", "/data/../system", "/a b", "/a;reboot", "/a$(id)",
                                   "/a\nb", "/a'b", "/a`id`"])
def test_hostile_paths_refused(value):
    with pytest.raises(UnsafeValueError):
        check_path(value)


def test_good_values_pass():
    assert check_package("com.vendor.weather") == "com.vendor.weather"
    assert check_permission("android.permission.READ_CONTACTS")
    assert check_path("/data/local/tmp/frida-server") == "/data/local/tmp/frida-server"
    assert check_adb_socket("tcp:8080") == "tcp:8080"
    for bad in ("tcp:0", "tcp:70000", "localabstract:x", "tcp:80;reboot"):
        with pytest.raises(UnsafeValueError):
            check_adb_socket(bad)


def test_cmd_quotes_every_value():
    line = cmd(W("settings"), W("put"), W("global"), W("http_proxy"), "a b;reboot")
    assert shlex.split(line) == ["settings", "put", "global", "http_proxy", "a b;reboot"]
    with pytest.raises(UnsafeValueError):
        cmd(W("echo"), "a\nreboot")


def test_input_text_escaped_then_quoted():
    arg = input_text_arg("hello world; $(reboot) & `id`")
    line = cmd(W("input"), W("text"), arg)
    words = shlex.split(line)
    assert words[:2] == ["input", "text"] and len(words) == 3
    assert "%s" in words[2] and "\\;" in words[2]
    with pytest.raises(UnsafeValueError):
        input_text_arg("tab\there")
    with pytest.raises(UnsafeValueError):
        input_text_arg("x" * 513)


GOOD = {
    "check_package": "com.vendor.weather",
    "check_permission": "android.permission.CAMERA",
    "check_activity": ".MainActivity",
    "check_path": "/data/local/tmp/frida-server",
    "check_keyevent": "KEYCODE_HOME",
    "check_text": "hello",
    "check_canary": "CANARY-Ada",
    "check_action": "android.intent.action.VIEW",
    "check_uri": "https://x.example/",
    "check_adb_socket": "tcp:8080",
}


def test_every_string_validator_is_covered():
    names = {n for n in dir(shellquote) if n.startswith("check_")} - {"check_port", "check_int"}
    assert names == set(GOOD)


@pytest.mark.parametrize("name", GOOD)
def test_a_trailing_newline_is_refused(name):
    # `$` matches before a final newline: each validator matches the whole value instead
    check = getattr(shellquote, name)
    assert check(GOOD[name]) == GOOD[name]
    with pytest.raises(UnsafeValueError):
        check(GOOD[name] + "\n")


def test_proxy_value_written_back_refuses_a_trailing_newline():
    from harness.devices.proxy_setting import _check_proxy_value

    assert _check_proxy_value("10.0.0.1:8080") == "10.0.0.1:8080"
    with pytest.raises(UnsafeValueError):
        _check_proxy_value("10.0.0.1:8080\n")
