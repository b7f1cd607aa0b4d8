"""The value rules of lab.yaml and profiles, one table per rule."""

from __future__ import annotations

import pytest

from harness.config.lab import (
    check_country,
    check_hostname,
    check_package,
    check_permission,
    parse_duration,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0),
    ("10m", 600.0),
    ("500ms", 0.5),
    ("1.5h", 5400.0),
    ("1m30s", 90.0),
    ("1h30m", 5400.0),
    (" 45s ", 45.0),
    ("30", 30.0),
    (30, 30.0),
    (2.5, 2.5),
    ("0s", 0.0),
])
def test_durations_accepted(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [
    "10q", "ten seconds", "-5s", -5, "5 s", "s", "", "1e3s", True, None, [], {"s": 1},
    float("inf"), float("nan"), "200h", "1.5.5s",
])
def test_durations_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("name", [
    "com.vendor.weather", "com.example.app", "a.b", "Com.X_y.z9", "org.mozilla.firefox_beta",
    "a." + "b" * 221,
])
def test_package_names_accepted(name):
    assert check_package(name) == name


@pytest.mark.parametrize("name", [
    "com.x;reboot",     # shell injection
    "x",                # Android requires at least one separator
    "1com.x",           # segments start with a letter
    "com..x",           # empty segment
    "com.x.",           # trailing dot
    ".com.x",           # leading dot
    "com.1x",           # segment starting with a digit
    "com.x y",          # space
    "com.x$(id)",
    "com.x\nreboot",
    "com-x.y",
    "",
    "a." + "b" * 222,   # 224 characters: over Android's 223
    42,
    None,
])
def test_package_names_refused(name):
    with pytest.raises(ValueError):
        check_package(name)


@pytest.mark.parametrize("code", ["IN", "US", "DE", "CN", "NO", "XK", "GB"])
def test_countries_accepted(code):
    assert check_country(code) == code


@pytest.mark.parametrize(("code", "hint"), [
    ("XX", None),
    ("in", "did you mean 'IN'?"),
    ("UK", "did you mean 'GB'?"),
    ("IND", None),
    ("", None),
    (False, 'quote it ("NO")'),   # YAML reads a bare NO as false
    (1, None),
])
def test_countries_refused(code, hint):
    with pytest.raises(ValueError) as info:
        check_country(code)
    if hint:
        assert hint in str(info.value)


@pytest.mark.parametrize(("name", "normal"), [
    ("vendor.example.in", "vendor.example.in"),
    ("*.gov.in", "*.gov.in"),
    ("API.Example.COM.", "api.example.com"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("localhost", "localhost"),
    ("_dmarc.example.com", "_dmarc.example.com"),
])
def test_hostnames_accepted(name, normal):
    assert check_hostname(name) == normal


@pytest.mark.parametrize("name", [
    "https://example.com", "example.com/path", "example.com:443", "-bad.example",
    "bad-.example", "a..b", "*", "*.", "ex ample.com", "bücher.example", "1.2.3.4",
    "a" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", "", "foo.*.example", 7,
])
def test_hostnames_refused(name):
    with pytest.raises(ValueError):
        check_hostname(name)


@pytest.mark.parametrize("perm", [
    "android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION",
    "com.google.android.c2dm.permission.RECEIVE",
])
def test_permissions_accepted(perm):
    assert check_permission(perm) == perm


@pytest.mark.parametrize("perm", [
    "READ_CONTACTS", "android.permission.READ_CONTACTS;reboot", "android..x", "1a.b", "a.b c",
])
def test_permissions_refused(perm):
    with pytest.raises(ValueError):
        check_permission(perm)


@pytest.mark.parametrize(("check", "value"), [
    (check_package, "com.vendor.weather\n"),
    (check_permission, "android.permission.CAMERA\n"),
    (check_hostname, "example.com\n"),
    (check_hostname, "*.example.com\n"),
])
def test_a_trailing_newline_is_refused(check, value):
    # `$` matches before a final newline: the validators match the whole value instead
    assert check(value.rstrip("\n")) == value.rstrip("\n")
    with pytest.raises(ValueError):
        check(value)
