"""lab.yaml and profile models: every rule, with the key path and position of each error."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.lab import (
    ConfigProblems,
    Flag,
    FridaMode,
    HookSet,
    LabConfig,
    NetworkMode,
    Severity,
    load_lab,
    load_profile,
    step_kind,
)
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LAB = "name: t\njurisdiction: IN\n"
PROFILE = "name: p\nsteps:\n  - idle: 1s\n"


def problems(tmp_path: Path, text: str, kind: str) -> list:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text)
    loader = load_lab if kind == "lab" else load_profile
    with pytest.raises(ConfigProblems) as info:
        loader(path)
    assert isinstance(info.value, ConfigError)
    assert info.value.exit_code == 2
    for p in info.value.problems:
        assert p.file == str(path) and p.line and p.column, p
    return list(info.value.problems)


def assert_problem(found: list, path: str, fragment: str) -> None:
    matches = [p for p in found if p.path == path]
    assert matches, f"no problem at {path}: {[str(p) for p in found]}"
    assert any(fragment in p.message for p in matches), [str(p) for p in matches]


LAB_CASES = [
    ("unknown top key", "name: t\njurisdicton: IN\n", "jurisdicton", "did you mean 'jurisdiction'"),
    ("missing key", "name: t\n", "jurisdiction", "missing required key 'jurisdiction'"),
    ("empty name", "name: ''\njurisdiction: IN\n", "name", "at least 1"),
    ("bad country", LAB.replace("IN", "XX"), "jurisdiction", "not an ISO 3166-1"),
    ("lower-case country", LAB.replace("IN", "in"), "jurisdiction", "did you mean 'IN'"),
    ("bad allowed country", LAB + "policy: {allowed_countries: [IN, ZZ]}\n",
     "policy.allowed_countries[1]", "not an ISO 3166-1"),
    ("bare NO is false", LAB + "policy:\n  watchlist_countries: [NO]\n",
     "policy.watchlist_countries[0]", "quote it"),
    ("allowed and watched", LAB + "policy: {allowed_countries: [CN], watchlist_countries: [CN]}\n",
     "policy.watchlist_countries", "both allowed and on the watch list"),
    ("url as domain", LAB + "policy: {allowed_domains: ['https://x.example']}\n",
     "policy.allowed_domains[0]", "host only"),
    ("bad domain", LAB + "policy: {allowed_domains: [ok.example, 'a..b']}\n",
     "policy.allowed_domains[1]", "not a host or domain name"),
    ("unknown flag", LAB + "policy: {severity: {foriegn: high}}\n",
     "policy.severity.foriegn", "did you mean 'foreign'"),
    ("bad severity", LAB + "policy: {severity: {foreign: severe}}\n",
     "policy.severity.foreign", "'info', 'low', 'medium', 'high' or 'critical'"),
    ("typo in policy", LAB + "policy: {regresion: {}}\n", "policy.regresion", "did you mean 'regression'"),
    ("nested typo", LAB + "policy:\n  regression: {new_foreign_destinaton: true}\n",
     "policy.regression.new_foreign_destinaton", "did you mean 'new_foreign_destination'"),
    ("ratio", LAB + "policy: {regression: {volume_change_ratio: 0.5}}\n",
     "policy.regression.volume_change_ratio", "greater than 1"),
    ("port too big", LAB + "proxy: {port: 70000}\n", "proxy.port", "less than or equal to 65535"),
    ("port negative", LAB + "proxy: {port: -1}\n", "proxy.port", "greater than or equal to 0"),
    ("port bool", LAB + "proxy: {port: true}\n", "proxy.port", "valid integer"),
    ("port text", LAB + "proxy: {port: '8080'}\n", "proxy.port", "valid integer"),
    ("open proxy", LAB + "proxy: {listen_host: 0.0.0.0}\n", "proxy", "needs client_allowlist or auth"),
    ("open v6 proxy", LAB + "proxy: {listen_host: '::'}\n", "proxy", "needs client_allowlist or auth"),
    ("allowlist of all", LAB + "proxy: {listen_host: 0.0.0.0, client_allowlist: [0.0.0.0/0]}\n", "proxy",
     "client_allowlist admits every IPv4 address: list the lab's own networks"),
    ("allowlist of all v6", LAB + "proxy: {listen_host: '::', client_allowlist: ['::/0']}\n", "proxy",
     "client_allowlist admits every IPv6 address"),
    ("allowlist adding up to all", LAB + "proxy: {listen_host: 10.0.0.1, client_allowlist: "
     "[10.0.0.0/8, 0.0.0.0/1, 128.0.0.0/1]}\n", "proxy", "admits every IPv4 address"),
    ("host name", LAB + "proxy: {listen_host: lab-host}\n", "proxy.listen_host", "not an IP address"),
    ("host number", LAB + "proxy: {listen_host: 5}\n", "proxy.listen_host", "not an IP address"),
    ("bad cidr", LAB + "proxy: {listen_host: 0.0.0.0, client_allowlist: [10.0.0.0/33]}\n",
     "proxy.client_allowlist", "not a CIDR"),
    ("auth shape", LAB + "proxy: {listen_host: 0.0.0.0, auth: nopassword}\n", "proxy.auth", "match pattern"),
    ("network mode", LAB + "proxy: {network: offline}\n", "proxy.network", "'live' or 'contained'"),
    ("proxy typo", LAB + "proxy: {lisen_host: 127.0.0.1}\n", "proxy.lisen_host", "did you mean 'listen_host'"),
    ("serial injection", LAB + "devices: [{serial: 'abc;reboot'}]\n", "devices[0].serial", "not a device serial"),
    ("device typo", LAB + "devices: [{serial: abc, fridda: usb}]\n", "devices[0].fridda", "did you mean 'frida'"),
    ("frida mode", LAB + "devices: [{serial: abc, frida: wifi}]\n", "devices[0].frida", "'usb', 'remote' or 'local'"),
    ("duplicate device", LAB + "devices: [{serial: abc}, {serial: abc}]\n", "devices", "listed twice"),
    ("geo source", LAB + "geo: {sources: [overrides, maxmind]}\n", "geo.sources[1]", "'mmdb'"),
    ("mmdb path", LAB + "geo: {sources: [mmdb]}\n", "geo", "needs `mmdb:"),
    ("repeated source", LAB + "geo: {sources: [iptocc, iptocc]}\n", "geo.sources", "at most once"),
    ("override cidr", LAB + "geo: {overrides: [{cidr: 300.0.0.0/8, country: CN}]}\n",
     "geo.overrides[0].cidr", "not a CIDR"),
    ("override country", LAB + "geo: {overrides: [{cidr: 10.0.0.0/8, country: China}]}\n",
     "geo.overrides[0].country", "not an ISO 3166-1"),
    ("contacts", LAB + "canaries: {contacts: 100}\n", "canaries.contacts", "less than or equal to 50"),
    ("latitude", LAB + "canaries: {location: {lat: 100, lon: 0}}\n", "canaries.location.lat", "90"),
    ("prefix", LAB + "canaries: {prefix: 'bad prefix'}\n", "canaries.prefix", "match pattern"),
    ("canary typo", LAB + "canaries: {contact: 2}\n", "canaries.contact", "did you mean 'contacts'"),
]


@pytest.mark.parametrize(("text", "path", "fragment"), [c[1:] for c in LAB_CASES],
                         ids=[c[0] for c in LAB_CASES])
def test_lab_rules(tmp_path, text, path, fragment):
    assert_problem(problems(tmp_path, text, "lab"), path, fragment)


PROFILE_CASES = [
    ("unknown top key", "name: p\nstepz: []\nsteps: [{idle: 1s}]\n", "stepz", "did you mean 'steps'"),
    ("missing steps", "name: p\n", "steps", "missing required key 'steps'"),
    ("no steps", "name: p\nsteps: []\n", "steps", "at least 1 item"),
    ("bad name", "name: my profile\n" + PROFILE[8:], "name", "not a profile name"),
    ("unknown step", "name: p\nsteps:\n  - lanch: {package: com.x.y}\n", "steps[0].lanch",
     "did you mean 'launch'"),
    ("bare step", "name: p\nsteps:\n  - idle\n", "steps[0]", "needs a value"),
    ("unknown bare step", "name: p\nsteps:\n  - rebot\n", "steps[0]", "did you mean 'reboot'"),
    ("two keys", "name: p\nsteps:\n  - {idle: 1s, wait: 2s}\n", "steps[0]", "exactly one key"),
    ("list step", "name: p\nsteps:\n  - [idle, 1s]\n", "steps[0]", "exactly one key"),
    ("launch arg typo", "name: p\nsteps:\n  - launch: {pakage: com.x.y}\n", "steps[0].launch.pakage",
     "did you mean 'package'"),
    ("launch injection", "name: p\nsteps:\n  - launch: {package: 'com.x;reboot'}\n",
     "steps[0].launch.package", "not an Android package name"),
    ("one segment", "name: p\nsteps:\n  - launch: {package: x}\n", "steps[0].launch.package",
     "not an Android package name"),
    ("digit first", "name: p\nsteps:\n  - launch: {package: 1com.x}\n", "steps[0].launch.package",
     "not an Android package name"),
    ("empty segment", "name: p\nsteps:\n  - launch: {package: com..x}\n", "steps[0].launch.package",
     "not an Android package name"),
    ("activity", "name: p\nsteps:\n  - launch: {package: com.x.y, activity: 'Main;id'}\n",
     "steps[0].launch.activity", "not an activity"),
    ("launch wait", "name: p\nsteps:\n  - launch: {package: com.x.y, wait: soon}\n",
     "steps[0].launch.wait", "not a duration"),
    ("monkey seed", "name: p\nsteps:\n  - monkey: {package: com.x.y, seed: -1}\n",
     "steps[0].monkey.seed", "greater than or equal to 0"),
    ("monkey events", "name: p\nsteps:\n  - monkey: {package: com.x.y, events: 0}\n",
     "steps[0].monkey.events", "greater than or equal to 1"),
    ("monkey events text", "name: p\nsteps:\n  - monkey: {package: com.x.y, events: '100'}\n",
     "steps[0].monkey.events", "valid integer"),
    ("monkey throttle", "name: p\nsteps:\n  - monkey: {package: com.x.y, throttle: fast}\n",
     "steps[0].monkey.throttle", "not a duration"),
    ("monkey typo", "name: p\nsteps:\n  - monkey: {package: com.x.y, seeed: 3}\n",
     "steps[0].monkey.seeed", "did you mean 'seed'"),
    ("input none", "name: p\nsteps:\n  - input: {}\n", "steps[0].input", "exactly one of tap, text, keyevent"),
    ("input two", "name: p\nsteps:\n  - input: {tap: [1, 2], text: hi}\n", "steps[0].input",
     "exactly one of tap, text, keyevent"),
    ("tap negative", "name: p\nsteps:\n  - input: {tap: [-1, 5]}\n", "steps[0].input.tap", "0..100000"),
    ("tap short", "name: p\nsteps:\n  - input: {tap: [1]}\n", "steps[0].input.tap", "too few items"),
    ("text empty", "name: p\nsteps:\n  - input: {text: ''}\n", "steps[0].input.text", "printable ASCII"),
    ("text unicode", "name: p\nsteps:\n  - input: {text: 'héllo'}\n", "steps[0].input.text", "printable ASCII"),
    ("text newline", "name: p\nsteps:\n  - input: {text: \"a\\nreboot\"}\n", "steps[0].input.text",
     "printable ASCII"),
    ("text long", "name: p\nsteps:\n  - input: {text: " + "a" * 513 + "}\n", "steps[0].input.text",
     "printable ASCII"),
    ("keyevent shell", "name: p\nsteps:\n  - input: {keyevent: 'rm -rf'}\n", "steps[0].input.keyevent",
     "not a key code"),
    ("keyevent bool", "name: p\nsteps:\n  - input: {keyevent: true}\n", "steps[0].input.keyevent",
     "not a key code"),
    ("input typo", "name: p\nsteps:\n  - input: {txt: hi}\n", "steps[0].input.txt", "did you mean 'text'"),
    ("intent action", "name: p\nsteps:\n  - intent: {action: 'a b'}\n", "steps[0].intent.action",
     "not an intent action"),
    ("intent data", "name: p\nsteps:\n  - intent: {action: a.VIEW, data: 'no uri'}\n",
     "steps[0].intent.data", "not a URI"),
    ("intent package", "name: p\nsteps:\n  - intent: {action: a.VIEW, package: 'x'}\n",
     "steps[0].intent.package", "not an Android package name"),
    ("intent missing action", "name: p\nsteps:\n  - intent: {data: 'https://x.example/'}\n",
     "steps[0].intent.action", "missing required key 'action'"),
    ("wait", "name: p\nsteps:\n  - wait: 10q\n", "steps[0].wait", "not a duration"),
    ("idle negative", "name: p\nsteps:\n  - idle: -5\n", "steps[0].idle", "cannot be negative"),
    ("idle empty", "name: p\nsteps:\n  - idle:\n", "steps[0].idle", "missing value"),
    ("reboot capture", "name: p\nsteps:\n  - reboot: {capture: forever}\n", "steps[0].reboot.capture",
     "not a duration"),
    ("reboot typo", "name: p\nsteps:\n  - reboot: {captur: 5s}\n", "steps[0].reboot.captur",
     "did you mean 'capture'"),
    ("stop empty", "name: p\nsteps:\n  - stop: {}\n", "steps[0].stop.package", "missing required key 'package'"),
    ("app package", "name: p\napps: [{package: x}]\n" + PROFILE[8:], "apps[0].package",
     "not an Android package name"),
    ("app typo", "name: p\napps: [{package: com.x.y, grnat: []}]\n" + PROFILE[8:], "apps[0].grnat",
     "did you mean 'grant'"),
    ("permission", "name: p\napps: [{package: com.x.y, grant: [READ_CONTACTS]}]\n" + PROFILE[8:],
     "apps[0].grant[0]", "not an Android permission"),
    ("grant and revoke", "name: p\napps: [{package: com.x.y, grant: [a.B], revoke: [a.B]}]\n" + PROFILE[8:],
     "apps[0].revoke", "both granted and revoked"),
    ("duplicate app", "name: p\napps: [{package: com.x.y}, {package: com.x.y}]\n" + PROFILE[8:],
     "apps", "listed twice"),
    ("hook set", "name: p\nhooks: [sensitiv]\n" + PROFILE[8:], "hooks[0]", "'sensitive'"),
    ("unpin", "name: p\nunpin: ['com.x y']\n" + PROFILE[8:], "unpin[0]", "not an Android package name"),
]


@pytest.mark.parametrize(("text", "path", "fragment"), [c[1:] for c in PROFILE_CASES],
                         ids=[c[0] for c in PROFILE_CASES])
def test_profile_rules(tmp_path, text, path, fragment):
    assert_problem(problems(tmp_path, text, "profile"), path, fragment)


# --- positions ---------------------------------------------------------------------------

BAD_PROFILE = """\
# yaml-language-server: $schema=../schemas/profile.schema.json
name: p
steps:
  - idle: 5s
  - launch: {package: "com.x;reboot"}
  - monkey:
      package: com.vendor.weather
      seeed: 7
  - lanch: {package: com.x.y}
  - wait: 10q
"""


def test_positions_name_file_line_column_and_key_path(tmp_path):
    found = problems(tmp_path, BAD_PROFILE, "profile")
    file = tmp_path / "profile.yaml"
    assert [str(p) for p in found] == [
        f"{file}:5:23: steps[1].launch.package: 'com.x;reboot' is not an Android package name: "
        "dot-separated segments (at least two), each starting with a letter, then letters, digits "
        "or _ (like com.example.app)",
        f"{file}:8:7: steps[2].monkey.seeed: unknown key 'seeed' (did you mean 'seed'?); "
        "known keys: events, package, seed, throttle",
        f"{file}:9:5: steps[3].lanch: unknown step 'lanch' (did you mean 'launch'?); "
        "steps are: launch, monkey, input, intent, wait, idle, reboot, stop, settings, sim, account, prompt",
        f"{file}:10:11: steps[4].wait: '10q' is not a duration like 90s, 10m, 500ms, 1.5h or 1m30s",
    ]


def test_positions_in_lab_file(tmp_path):
    text = "name: t\njurisdiction: XX\npolicy:\n  allowed_countries:\n    - IN\n    - ZZ\n  colour: red\n"
    found = problems(tmp_path, text, "lab")
    where = {p.path: (p.line, p.column) for p in found}
    assert where["jurisdiction"] == (2, 15)
    assert where["policy.allowed_countries[1]"] == (6, 7)
    assert where["policy.colour"] == (7, 3)


def test_every_unknown_key_is_named(tmp_path):
    found = problems(tmp_path, "name: t\njurisdiction: IN\nproxi: {}\ndevice: []\n", "lab")
    assert [(p.path, p.line, p.column) for p in found] == [("proxi", 3, 1), ("device", 4, 1)]
    assert "did you mean 'proxy'" in found[0].message
    assert "did you mean 'devices'" in found[1].message


def test_missing_key_points_at_its_mapping(tmp_path):
    found = problems(tmp_path, "name: p\nsteps:\n  - idle: 1s\n  - stop:\n      pkg: com.x.y\n", "profile")
    assert [(p.path, p.line, p.column) for p in found] == [
        ("steps[1].stop.package", 5, 7), ("steps[1].stop.pkg", 5, 7)]
    assert found[0].message == "missing required key 'package'"
    assert found[1].message == "unknown key 'pkg' (did you mean 'package'?); known keys: package"


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n- b\n", "got a list"),
    ("just text\n", "got text"),
])
def test_empty_or_not_a_mapping(tmp_path, text, fragment):
    found = problems(tmp_path, text, "profile")
    assert len(found) == 1 and fragment in found[0].message


# --- accepted forms ----------------------------------------------------------------------


def test_step_forms_and_kinds(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nsteps:\n"
        "  - reboot\n  - reboot:\n  - reboot: {capture: 1m}\n"
        "  - idle: 1m30s\n  - wait: 2\n"
        "  - input: {keyevent: 3}\n  - input: {keyevent: KEYCODE_HOME}\n  - input: {tap: [10, 20]}\n"
        "  - input: {text: 'hello world; $(id)'}\n"
        "  - intent: {action: android.intent.action.VIEW, data: 'https://x.example/?a=1'}\n"
        "  - monkey: {package: com.x.y, seed: 7, events: 10, throttle: 50ms}\n"
        "  - launch: {package: com.x.y, activity: .MainActivity, spawn: true}\n"
        "  - stop: {package: com.x.y}\n"
    )
    profile = load_profile(path)
    assert [step_kind(s) for s in profile.steps] == [
        "reboot", "reboot", "reboot", "idle", "wait", "input", "input", "input", "input",
        "intent", "monkey", "launch", "stop"]
    assert profile.steps[0].reboot.capture == 30.0
    assert profile.steps[2].reboot.capture == 60.0
    assert profile.steps[3].idle == 90.0
    assert profile.steps[5].input.keyevent == "3"
    assert profile.steps[7].input.tap == (10, 20)
    assert profile.hooks == [HookSet.SENSITIVE, HookSet.NETWORK]
    assert profile.estimated_seconds() == pytest.approx(30 + 30 + 60 + 90 + 2 + 10 * 0.05 + 5)


def test_lab_defaults_and_normalisation(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text(
        "name: t\njurisdiction: IN\n"
        "policy: {allowed_domains: [API.Example.COM.], severity: {cleartext: critical}}\n"
        "proxy: {listen_host: localhost, network: contained}\n"
        "devices: [{serial: virtual:vendor-1.0, frida: local}, {serial: 192.168.1.5:5555}]\n"
    )
    lab = load_lab(path)
    assert lab.policy.allowed_domains == ["api.example.com"]
    assert lab.policy.severity[Flag.CLEARTEXT] is Severity.CRITICAL
    assert lab.policy.severity[Flag.FOREIGN] is Severity.MEDIUM  # defaults fill the rest
    assert lab.proxy.listen_host == "127.0.0.1" and lab.proxy.network is NetworkMode.CONTAINED
    assert lab.devices[0].is_virtual and lab.devices[0].frida is FridaMode.LOCAL
    assert not lab.devices[1].is_virtual


def test_non_loopback_proxy_with_allowlist_or_auth_is_accepted(tmp_path):
    for extra in ("client_allowlist: [10.0.0.0/24]", "auth: 'lab:s3cret'",
                  "client_allowlist: [0.0.0.0/1]", "client_allowlist: ['0.0.0.0/0', '::/0']\n  auth: 'lab:s3cret'"):
        path = tmp_path / "lab.yaml"
        path.write_text(f"name: t\njurisdiction: IN\nproxy:\n  listen_host: 0.0.0.0\n  {extra}\n")
        assert load_lab(path).proxy.listen_host == "0.0.0.0"


def test_models_are_frozen():
    lab = LabConfig(name="t", jurisdiction="IN")
    with pytest.raises(ValueError):
        lab.name = "u"
