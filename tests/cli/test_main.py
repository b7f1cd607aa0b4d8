"""The `lab` command line: config check, schema, profiles, help everywhere, the error boundary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli.main import HarnessGroup, main, not_built
from harness.config.schema import schemas
from harness.errors import DeviceError, HarnessError

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, [str(a) for a in args])


# --- lab config check ---------------------------------------------------------------------


def test_check_shipped_files_exit_0():
    result = run("config", "check", ROOT / "lab.yaml", *PROFILES)
    assert result.exit_code == 0, result.output
    assert f"{ROOT / 'lab.yaml'}: ok (lab)" in result.stdout
    for path in PROFILES:
        assert f"{path}: ok (profile)" in result.stdout


def test_check_defaults_to_lab_yaml(tmp_path, monkeypatch):
    shutil.copy(ROOT / "lab.yaml", tmp_path / "lab.yaml")
    monkeypatch.chdir(tmp_path)
    result = run("config", "check")
    assert result.exit_code == 0 and result.stdout == "lab.yaml: ok (lab)\n"


def test_check_folder(tmp_path):
    result = run("config", "check", ROOT / "profiles")
    assert result.exit_code == 0 and result.stdout.count(": ok (profile)") == len(PROFILES)


BAD = [
    ("typo", "name: p\nsteps:\n  - idle: 5s\n  - monkey: {package: com.vendor.weather, seeed: 7}\n",
     "4:43: steps[1].monkey.seeed: unknown key 'seeed' (did you mean 'seed'?)"),
    ("injection", "name: p\nsteps:\n  - launch:\n      package: com.x;reboot\n",
     "4:16: steps[0].launch.package: 'com.x;reboot' is not an Android package name"),
    ("country", "name: lab\njurisdiction: IN\npolicy:\n  watchlist_countries: [CN, XX]\n",
     "4:29: policy.watchlist_countries[1]: 'XX' is not an ISO 3166-1 alpha-2 country code"),
    ("top typo", "name: lab\njurisdiction: IN\ncaptures_dri: out\n",
     "3:1: captures_dri: unknown key 'captures_dri' (did you mean 'captures_dir'?)"),
]


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_check_bad_file_exits_2_with_position_and_key_path(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = run("config", "check", ROOT / "lab.yaml", path)
    assert result.exit_code == 2
    assert f"{path}:{expected}" in result.stdout
    assert "1 of 2 file(s) with errors" in result.stderr
    assert "Traceback" not in result.output


def test_check_json(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: p\nsteps:\n  - idle: 10q\n")
    result = run("config", "check", "--json", ROOT / "lab.yaml", path)
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [(d["kind"], d["ok"]) for d in data] == [("lab", True), ("profile", False)]
    assert data[1]["problems"][0] | {"message": None} == {
        "file": str(path), "line": 3, "column": 11, "path": "steps[0].idle", "message": None}


def test_check_missing_file_exits_2(tmp_path):
    result = run("config", "check", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: no such file" in result.stdout


# --- lab config schema, lab profiles ------------------------------------------------------------


def test_schema_prints_both(tmp_path):
    result = run("config", "schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(json.dumps(schemas()))


def test_schema_write(tmp_path):
    result = run("config", "schema", "--write", tmp_path / "s")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "campaign.schema.json", "lab.schema.json", "profile.schema.json"]
    committed = (ROOT / "schemas" / "profile.schema.json").read_text()
    assert (tmp_path / "s" / "profile.schema.json").read_text() == committed


def test_schema_write_failure_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = run("config", "schema", "--write", tmp_path / "file" / "sub")
    assert result.exit_code == 2
    assert result.stderr.startswith("lab: ") and "cannot write" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_profiles_lists_shipped_profiles():
    result = run("profiles", "--dir", ROOT / "profiles")
    assert result.exit_code == 0, result.output
    for name in ("demo", "idle-baseline", "app-audit", "firmware-regression"):
        assert name in result.stdout
    assert "steps" in result.stdout and "min" in result.stdout


def test_profiles_json():
    result = run("profiles", "--dir", ROOT / "profiles", "--json")
    rows = json.loads(result.stdout)
    assert result.exit_code == 0
    assert {r["name"] for r in rows} >= {"demo", "firmware-regression"}
    assert all(r["ok"] and r["steps"] >= 1 for r in rows)


def test_profiles_marks_invalid_and_exits_2(tmp_path):
    (tmp_path / "ok.yaml").write_text("name: ok\ndescription: fine\nsteps: [{idle: 1s}]\n")
    (tmp_path / "bad.yaml").write_text("name: bad\nsteps: [{idel: 1s}]\n")
    result = run("profiles", "--dir", tmp_path)
    assert result.exit_code == 2
    assert "INVALID" in result.stdout and "did you mean 'idle'" in result.stdout
    assert "fine" in result.stdout


# --- the error boundary -------------------------------------------------------------------------


def test_harness_error_becomes_one_line_message(tmp_path):
    result = run("profiles", "--dir", tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr == f"lab: {tmp_path / 'nope'}: no such folder of profiles\n"


def test_debug_shows_the_exception(tmp_path):
    result = run("--debug", "profiles", "--dir", tmp_path / "nope")
    assert result.exit_code == 1
    assert isinstance(result.exception, HarnessError)


def boundary_group() -> click.Group:
    @click.group(cls=HarnessGroup)
    @click.option("--debug", is_flag=True)
    @click.pass_context
    def group(ctx: click.Context, debug: bool) -> None:
        ctx.ensure_object(dict)
        ctx.obj["debug"] = debug

    @group.command()
    def device() -> None:
        raise DeviceError("handset ABC went away\nsecond line")

    @group.command()
    def later() -> None:
        not_built("later")

    @group.command()
    def interrupt() -> None:
        raise KeyboardInterrupt

    return group


@pytest.mark.parametrize(("command", "code", "stderr"), [
    ("device", 3, "lab: handset ABC went away\nlab: second line\n"),
    ("later", 2, "lab: `lab later` is not built yet\n"),
    ("interrupt", 130, "lab: interrupted\n"),
])
def test_group_maps_errors_to_exit_codes(command, code, stderr):
    result = CliRunner().invoke(boundary_group(), [command])
    assert (result.exit_code, result.stderr, result.stdout) == (code, stderr, "")


def test_group_debug_reraises():
    result = CliRunner().invoke(boundary_group(), ["--debug", "device"])
    assert isinstance(result.exception, DeviceError)


# --- help everywhere ----------------------------------------------------------------------------


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


COMMANDS = list(all_commands(main))


def test_surface_is_complete():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert names >= {"config", "config check", "config schema", "profiles", "devices", "prepare",
                     "restore", "run", "report", "diff", "regress", "verify", "import",
                     "virtual", "virtual list", "virtual serve"}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"lab {' '.join(path)} has no help text"
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: main " in result.stdout or "Usage: lab " in result.stdout
    assert command.help.strip().splitlines()[0][:30] in " ".join(result.stdout.split())


def test_top_level_help_and_version():
    result = run("--help")
    assert result.exit_code == 0 and "Audit where Android handsets send data" in result.stdout
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("lab, version ")
