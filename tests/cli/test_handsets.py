"""Every `lab` command that acts on a handset names it the same way: `--device SERIAL` or
`--device virtual:NAME`, chosen as adbutils does; the old spellings still work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli.handsets import chosen
from harness.cli.main import main
from harness.devices.journal import Journal

LAB = str(Path(sys.executable).parent / "lab")
HANDSET_COMMANDS = [("prepare",), ("restore",), ("run",), ("regress",), ("virtual", "serve")]


def command(path: tuple[str, ...]) -> click.Command:
    found: click.Command = main
    for name in path:
        found = found.commands[name]  # type: ignore[attr-defined]
    return found


def write_lab(tmp_path: Path, devices: str = "") -> Path:
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n"
                   f"captures_dir: {tmp_path / 'captures'}\n{devices}")
    return lab


@pytest.fixture
def adb_env(adb_server) -> dict[str, str]:
    """The private adb server for CliRunner (env=) and subprocesses; no ANDROID_SERIAL."""
    return {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "ANDROID_SERIAL": None}


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


# --- one spelling ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", HANDSET_COMMANDS, ids=" ".join)
def test_every_handset_command_takes_one_optional_device_option(path):
    options = {name: p for p in command(path).params for name in p.opts}
    device = options["--device"]
    assert isinstance(device, click.Option) and not device.required
    assert device.metavar in ("SERIAL|virtual:NAME", "virtual:NAME")
    help_text = " ".join(invoke([*path, "--help"]).stdout.split())
    assert "--device SERIAL|virtual:NAME" in help_text or "--device virtual:NAME" in help_text
    if path != ("virtual", "serve"):  # serve starts a handset; it does not choose one
        assert "ANDROID_SERIAL" in help_text


def test_old_spellings_are_marked_deprecated_in_help():
    restore_help = " ".join(invoke(["restore", "--help"]).stdout.split())
    assert "[SERIAL!]" in restore_help and "DEPRECATED: Use --device SERIAL." in restore_help
    serve_help = " ".join(invoke(["virtual", "serve", "--help"]).stdout.split())
    assert "--handset NAME" in serve_help and "DEPRECATED: Use --device virtual:NAME." in serve_help


def test_android_serial_may_name_a_virtual_handset():
    assert chosen(None, env={"ANDROID_SERIAL": "virtual:reference"}) == "virtual:reference"
    assert chosen(None, "virtual:vendor-1.0", env={}) == "virtual:vendor-1.0"  # lab.yaml's first device
    assert chosen("virtual:vendor-1.1", "virtual:vendor-1.0", env={"ANDROID_SERIAL": "x"}) == "virtual:vendor-1.1"


def test_android_serial_comes_before_lab_yaml(adb_env):
    with pytest.raises(Exception, match=r"handset NOSUCH \(from ANDROID_SERIAL\) not found"):
        chosen(None, "virtual:vendor-1.0", env={**os.environ, **adb_env, "ANDROID_SERIAL": "NOSUCH"})


@pytest.mark.parametrize("args", [["prepare"], ["run", "profile.yaml"], ["restore"]], ids=lambda a: a[0])
def test_an_unknown_virtual_handset_is_a_one_line_handset_error(tmp_path, args):
    lab = write_lab(tmp_path)
    (tmp_path / "profile.yaml").write_text("name: p\nsteps: [{idle: 1s}]\n")
    args = [a if a != "profile.yaml" else str(tmp_path / a) for a in args]
    result = invoke([*args, "--lab", lab, "--device", "virtual:nosuch"])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("lab: virtual:nosuch: no built-in handset 'nosuch'")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "captures").exists()


# --- lab restore --------------------------------------------------------------------------------


def pending_journal(tmp_path: Path, serial: str, virtual: str | None = None) -> Journal:
    device = {"serial": serial, **({"virtual": virtual} if virtual else {})}
    journal = Journal.create(serial, tmp_path / "state", device=device)
    journal.done(journal.begin("http_proxy", previous=None))
    return journal


def test_restore_device_names_the_journal_by_serial_old_positional_too(tmp_path, adb_env):
    lab = write_lab(tmp_path)
    pending_journal(tmp_path, "SER1")
    for args in (["--device", "SER1"], ["SER1"]):
        result = invoke(["restore", "--lab", lab, *args], env=adb_env)
        assert result.exit_code == 3, result.output
        assert "SER1: not attached" in result.stderr and "kept" in result.stderr
    assert "deprecated" in invoke(["restore", "--lab", lab, "SER1"], env=adb_env).stderr
    other = invoke(["restore", "--lab", lab, "--device", "SER2"], env=adb_env)
    assert (other.exit_code, other.stdout) == (0, "nothing to restore for SER2\n")
    both = invoke(["restore", "--lab", lab, "SER1", "--device", "SER2"], env=adb_env)
    assert both.exit_code == 2 and "give --device alone" in both.stderr


def test_restore_device_virtual_name_finds_the_journal_of_that_virtual_handset(tmp_path, adb_env):
    lab = write_lab(tmp_path)
    pending_journal(tmp_path, "127.0.0.1:1", virtual="vendor-1.0")
    found = invoke(["restore", "--lab", lab, "--device", "virtual:vendor-1.0"], env=adb_env)
    assert found.exit_code == 3 and "127.0.0.1:1: not attached" in found.stderr, found.output
    other = invoke(["restore", "--lab", lab, "--device", "virtual:vendor-1.1"], env=adb_env)
    assert (other.exit_code, other.stdout) == (0, "nothing to restore for virtual:vendor-1.1\n")
    from_env = invoke(["restore", "--lab", lab], env={**adb_env, "ANDROID_SERIAL": "virtual:vendor-1.1"})
    assert (from_env.exit_code, from_env.stdout) == (0, "nothing to restore for virtual:vendor-1.1\n")


# --- lab virtual serve --------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--device", "emulator-5554"], "serve starts a virtual handset; name it virtual:NAME"),
    (["--device", "virtual:reference", "--handset", "reference"], "give --device virtual:NAME alone"),
    (["--device", "virtual:no-such-phone"], "no built-in handset 'no-such-phone'"),
])
def test_serve_refuses_what_names_no_virtual_handset(args, message):
    result = invoke(["virtual", "serve", *args])
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.output


@pytest.mark.e2e
@pytest.mark.parametrize("args", [["--device", "virtual:vendor-1.0"], ["--handset", "virtual:vendor-1.0"]],
                         ids=["device", "old-handset"])
def test_serve_device_virtual_name(tmp_path, args):
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([LAB, "virtual", "serve", *args, "--ready-file", str(ready)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        serial = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert serial.startswith("127.0.0.1:"), proc.stderr.read()  # type: ignore[union-attr]
        assert json.loads(ready.read_text())["handset"] == "vendor-1.0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# --- virtual:NAME end to end: prepare, then restore by the same name ----------------------------


def stop_pid(pid: int, timeout: float = 20) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@pytest.mark.e2e
def test_prepare_and_restore_device_virtual_name(tmp_path, adb_server, adb_env):
    lab = write_lab(tmp_path)
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb_server.port)}
    env.pop("ANDROID_SERIAL", None)
    prepared = subprocess.run([LAB, "prepare", "--lab", str(lab), "--device", "virtual:reference", "--no-frida",
                               "--json"], env=env, capture_output=True, text=True, timeout=180, check=False)
    pid = json.loads(prepared.stdout or "{}").get("virtual_pid")
    try:
        assert prepared.returncode == 0, prepared.stderr
        result = json.loads(prepared.stdout)
        serial = result["serial"]
        assert serial.startswith("127.0.0.1:") and result["changes"]
        journal = Journal.load(Path(result["journal"][0]))
        assert journal.device["virtual"] == "reference" and journal.pending
        restored = subprocess.run([LAB, "restore", "--lab", str(lab), "--device", "virtual:reference"], env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.startswith(f"restored {serial}: ")
        assert not Journal.load(Path(result["journal"][0])).pending
    finally:
        if pid:
            adb_server.run("disconnect", json.loads(prepared.stdout)["serial"], timeout=10)
            stop_pid(pid)


# --- a wrong handset is found before any capture folder is made ------------------------------


@pytest.mark.parametrize(("args", "env", "message"), [
    (["run", "--device", "NOSUCH"], {}, "lab: handset NOSUCH not found; "),
    (["run", "--device", "virtual:reference", "--device", "NOSUCH"], {}, "lab: handset NOSUCH not found; "),
    (["run"], {"ANDROID_SERIAL": "NOSUCH"}, "lab: handset NOSUCH (from ANDROID_SERIAL) not found; "),
    (["run"], {"LAB_DEVICES": "NOSUCH"}, "lab: handset NOSUCH not found; "),
    (["regress", "--device", "NOSUCH", "--baseline", "BASE"], {}, "lab: handset NOSUCH not found; "),
], ids=["device", "second-device", "android-serial", "lab-yaml", "regress"])
def test_a_wrong_handset_is_exit_3_before_any_capture_folder(tmp_path, adb_env, args, env, message):
    from support.capture_builder import build_capture

    devices = f"devices:\n  - serial: {env.pop('LAB_DEVICES')}\n" if "LAB_DEVICES" in env else ""
    lab = write_lab(tmp_path, devices)
    profile = tmp_path / "profile.yaml"
    profile.write_text("name: p\nsteps: [{idle: 1s}]\n")
    base = build_capture(tmp_path / "base")
    args = [str(base) if a == "BASE" else a for a in args]
    result = invoke([args[0], profile, *args[1:], "--lab", lab], env={**adb_env, **env})
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "captures").exists()
