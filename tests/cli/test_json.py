"""`--json` on every `lab` command that prints data: one JSON document on stdout, the same
exit code as without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from support.capture_builder import build_capture

from harness.capture import write_manifest
from harness.cli.main import main
from harness.devices.journal import Journal

LAB = str(Path(sys.executable).parent / "lab")
# commands that print no data: a key file's path, JSON already, a long-running handset's serial,
# a long-running campaign worker's log
NOT_DATA = {"keygen", "config schema", "virtual serve", "worker"}


def leaves(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaves(command, prefix + (name,))
        else:
            yield " ".join(prefix + (name,)), command


LEAVES = dict(leaves(main))


def invoke(*args: object, env: dict[str, str | None] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.mark.parametrize("name", sorted(set(LEAVES) - NOT_DATA))
def test_every_data_command_accepts_json(name):
    options = {opt for p in LEAVES[name].params for opt in p.opts}
    assert "--json" in options, f"lab {name} has no --json"
    assert "--json" in invoke(*name.split(), "--help").stdout


def test_the_commands_without_json_are_the_listed_ones():
    without = {name for name, c in LEAVES.items() if "--json" not in {o for p in c.params for o in p.opts}}
    assert without == NOT_DATA


def verifiable_capture(tmp_path: Path) -> Path:
    run = build_capture(tmp_path / "run")
    (run / "run.json").unlink()
    write_manifest(run, {"run_id": "run-1", "status": "ok"})
    return run


def test_verify_json(tmp_path):
    run = verifiable_capture(tmp_path)
    ok = invoke("verify", run, "--json")
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["run"] == str(run)
    assert {k: data[k] for k in ("ok", "changed", "missing", "unlisted", "signature")} == {
        "ok": True, "changed": [], "missing": [], "unlisted": [], "signature": "absent"}
    (run / "flows.jsonl").write_text("tampered\n")
    (run / "hooks.jsonl").unlink()
    bad = invoke("verify", run, "--json")
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert (data["ok"], data["changed"], data["missing"]) == (False, ["flows.jsonl"], ["hooks.jsonl"])


def test_report_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no lab.yaml here: reported without a policy
    run = build_capture(tmp_path / "run")
    result = invoke("report", run, "--format", "json,md", "--out", tmp_path / "rep", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["runs"] == [str(run)]
    assert sorted(Path(p).suffix for p in data["files"]) == [".json", ".md"]
    assert all(Path(p).parent == tmp_path / "rep" and Path(p).is_file() for p in data["files"])


def test_diff_json_is_format_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base, new = build_capture(tmp_path / "a"), build_capture(tmp_path / "b", variant="vendor-1.1")
    by_flag = invoke("diff", base, new, "--json")
    by_format = invoke("diff", base, new, "--format", "json")
    assert by_flag.exit_code == by_format.exit_code == 1
    assert json.loads(by_flag.stdout) == json.loads(by_format.stdout)
    assert json.loads(by_flag.stdout)["regressions"]


def test_restore_json_nothing_pending_is_an_empty_list(tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n")
    result = invoke("restore", "--lab", lab, "--json", env={"ANDROID_SERIAL": None})
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


@pytest.mark.e2e
def test_restore_json_names_what_was_undone(tmp_path, virtual_handset, adb_server):
    vh = virtual_handset("reference")
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n")
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "ANDROID_SERIAL": None}
    before = vh.state_dump()
    prepared = invoke("prepare", "--lab", lab, "--device", vh.serial, "--proxy-port", "18091", "--no-frida",
                      "--no-canaries", "--json", env=env)
    assert prepared.exit_code == 0, prepared.output
    restored = invoke("restore", "--lab", lab, "--device", vh.serial, "--json", env=env)
    assert restored.exit_code == 0, restored.output
    (data,) = json.loads(restored.stdout)
    assert data["serial"] == vh.serial and data["failed"] == []
    assert set(data["restored"]) == {"http_proxy", "reverse"}
    assert data["journals"][0] == json.loads(prepared.stdout)["journal"][0]
    assert not Journal.load(Path(data["journals"][0])).pending
    assert vh.state_dump() == before


@pytest.mark.e2e
def test_regress_json(tmp_path, adb_server):
    base = build_capture(tmp_path / "base")
    (tmp_path / "lab.yaml").write_text(
        f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\ncaptures_dir: {tmp_path / 'captures'}\n")
    (tmp_path / "profile.yaml").write_text("name: p\nsteps: [{idle: 1s}]\n")
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb_server.port)}
    env.pop("ANDROID_SERIAL", None)
    result = subprocess.run([LAB, "regress", "profile.yaml", "--device", "virtual:reference", "--baseline", str(base),
                             "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
                            check=False)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    assert data["run"]["status"] == "ok" and Path(data["run"]["run_dir"]).parent == tmp_path / "captures"
    assert data["diff"]["baseline"] == ["run-vendor-1.0"]
    assert data["diff"]["new"] == [Path(data["run"]["run_dir"]).name]
    assert "regressions" in data["diff"]
