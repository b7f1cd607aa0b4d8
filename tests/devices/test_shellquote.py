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
    input_text_args,
)
from harness.errors import UnsafeValueError
from harness.virtual.shell.activity import typed_text

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


@pytest.mark.parametrize("text", ["user@example.com", "a b", "it's", "100%", "$HOME;reboot", "",
                                  "hello world; $(reboot) & `id`", "50%sale", "%s", "%%s", "%s%s",
                                  " % s%", "back\\slash \\%s 'q' \"dq\""])
def test_input_text_args_type_exactly_the_text(text):
    """Each argument reaches `input` as one word, without the quoting, and Android types
    it with only %s decoded (AOSP InputShellCommand.sendText; typed_text does the same)."""
    args = input_text_args(text)
    typed = ""
    for arg in args:
        words = shlex.split(cmd(W("input"), W("text"), arg))
        assert words == ["input", "text", arg] and " " not in arg
        typed += typed_text(arg)
    assert typed == text
    assert len(args) == text.count("%s") + 1


def test_input_text_args_refuse_what_input_cannot_type():
    assert input_text_args("user@example.com") == ["user@example.com"]  # no backslashes added
    assert input_text_args("a b") == ["a%sb"]
    with pytest.raises(UnsafeValueError):
        input_text_args("tab\there")
    with pytest.raises(UnsafeValueError):
        input_text_args("x" * 513)


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
    "check_account_name": "lab.tester@example.com",
    "check_account_type": "com.google",
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
