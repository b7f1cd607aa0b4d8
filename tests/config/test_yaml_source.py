"""YAML with positions: hostile and malformed files give one clear error, never a hang."""

from __future__ import annotations

import tracemalloc

import pytest
from click.testing import CliRunner

from harness.cli.main import main
from harness.config.lab import load_profile
from harness.config.yaml_source import (
    MAX_FILE_BYTES,
    ConfigProblems,
    Position,
    format_path,
    load_with_positions,
    parse_with_positions,
)
from harness.errors import ConfigError


def error_of(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "x.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigProblems) as info:
        load_with_positions(path)
    assert len(info.value.problems) == 1
    return str(info.value)


def test_positions_of_keys_values_and_items():
    doc = parse_with_positions("a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n", "f.yaml")
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": [{"e": 2}]}}
    assert doc.position_of(("b", "c")) == Position("f.yaml", 3, 3)
    assert doc.value_position_of(("b", "c")) == Position("f.yaml", 3, 6)
    assert doc.position_of(("b", "c", 1)) == Position("f.yaml", 3, 10)
    assert doc.position_of(("b", "d", 0, "e")) == Position("f.yaml", 5, 7)
    assert doc.value_position_of(("b", "d", 0, "e")) == Position("f.yaml", 5, 10)
    # a path that does not exist falls back to its nearest ancestor
    assert doc.position_of(("b", "c", "nope")) == Position("f.yaml", 3, 3)
    assert str(doc.position_of(("a",))) == "f.yaml:1:1"


def test_format_path():
    assert format_path(("steps", 2, "monkey", "seed")) == "steps[2].monkey.seed"
    assert format_path(()) == "(top level)"


def test_duplicate_key_names_both_lines(tmp_path):
    message = error_of(tmp_path, "name: a\nsteps: []\nname: b\n")
    assert message == f"{tmp_path / 'x.yaml'}:3:1: name: duplicate key (first at line 1)"


def test_nested_duplicate_key(tmp_path):
    message = error_of(tmp_path, "proxy:\n  port: 1\n  port: 2\n")
    assert ":3:3: proxy.port: duplicate key" in message


def test_tab_indentation(tmp_path):
    message = error_of(tmp_path, "name: a\nsteps:\n\t- idle: 1s\n")
    assert ":3:1: YAML syntax error: a tab character" in message
    assert "indent with spaces" in message


def test_syntax_error_has_position(tmp_path):
    message = error_of(tmp_path, "name: a\nsteps: [idle\n")
    assert message.startswith(f"{tmp_path / 'x.yaml'}:")
    assert "YAML syntax error" in message


def test_two_documents(tmp_path):
    assert "more than one YAML document" in error_of(tmp_path, "a: 1\n---\nb: 2\n")


def test_non_scalar_key(tmp_path):
    assert "keys must be plain scalars" in error_of(tmp_path, "? [a, b]\n: 1\n")


def test_python_tags_are_refused(tmp_path):
    assert "unsupported YAML tag" in error_of(tmp_path, "a: !!python/object/apply:os.system [id]\n")
    assert "could not determine a constructor" in error_of(tmp_path, "a: !!python/name:os.system ''\n")
    assert "unsupported YAML tag" in error_of(tmp_path, "a: !!python/object:os.Foo {x: 1}\n")


def test_not_utf8(tmp_path):
    assert "not UTF-8" in error_of(tmp_path, b"name: \xff\xfe\n")


def test_too_large(tmp_path):
    assert "larger than" in error_of(tmp_path, "a: " + "x" * MAX_FILE_BYTES + "\n")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_with_positions(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_with_positions(tmp_path)


def test_billion_laughs_stops_early(tmp_path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    tracemalloc.start()
    try:
        message = error_of(tmp_path, "\n".join(lines) + "\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "more than 50000 values" in message
    assert peak < 200 * 1024 * 1024


def test_recursive_alias(tmp_path):
    assert "recursive alias" in error_of(tmp_path, "a: &x [1, *x]\n")
    assert "recursive alias" in error_of(tmp_path, "a: &x {b: *x}\n")


def test_deep_nesting(tmp_path):
    assert "nested" in error_of(tmp_path, "a: " + "[" * 100 + "]" * 100 + "\n")
    assert "nested too deeply" in error_of(tmp_path, "[" * 1500 + "]" * 1500 + "\n")


def test_aliases_and_merge_keys_work(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\n"
        "x-weather: &weather {package: com.vendor.weather}\n"
        "steps:\n"
        "  - launch: {<<: *weather, wait: 2s}\n"
        "  - monkey: {<<: *weather, seed: 7}\n"
        "  - stop: *weather\n"
    )
    # `x-weather` is an unknown key of a profile: anchors must live inside known keys
    with pytest.raises(ConfigProblems, match="x-weather: unknown key"):
        load_profile(path)
    path.write_text(
        "name: p\n"
        "apps:\n  - &weather {package: com.vendor.weather}\n"
        "steps:\n"
        "  - launch: {<<: *weather, wait: 2s}\n"
        "  - monkey: {<<: *weather, seed: 7}\n"
        "  - stop: *weather\n"
    )
    profile = load_profile(path)
    assert profile.steps[0].launch.package == "com.vendor.weather"
    assert profile.steps[0].launch.wait == 2.0
    assert profile.steps[1].monkey.seed == 7
    assert profile.steps[2].stop.package == "com.vendor.weather"


def test_merge_explicit_keys_win():
    doc = parse_with_positions("base: &b {a: 1, b: 2}\nc: {<<: *b, b: 3}\n", "f.yaml")
    assert doc.data["c"] == {"a": 1, "b": 3}


def test_yes_no_keys_keep_their_text():
    doc = parse_with_positions("no: 1\n3: x\n", "f.yaml")
    assert set(doc.data) == {"no", "3"}


def test_bom_is_ignored(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes("\ufeffname: a\n".encode())
    assert load_with_positions(path).data == {"name": "a"}


# --- values PyYAML cannot build: a file:line message and exit 2, never a traceback ----------

UNBUILDABLE = {
    "impossible date": ("2024-13-45", "reads as a date or timestamp but is none"),
    "impossible timestamp": ("2024-02-30 25:61:61", "reads as a date or timestamp but is none"),
    "year zero": ("0000-01-01", "reads as a date or timestamp but is none"),
    "5000-digit integer": ("9" * 5000, "has 5000 characters: too large"),
}


def lab_cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("value, says", UNBUILDABLE.values(), ids=UNBUILDABLE.keys())
def test_config_check_unbuildable_value(tmp_path, value, says):
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: x\njurisdiction: IN\nproxy:\n  port: {value}\n")
    result = lab_cli("config", "check", lab)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith(f"{lab}:4:9: proxy.port: ")
    assert says in result.stdout and "quote it" in result.stdout


@pytest.mark.parametrize("value, says", UNBUILDABLE.values(), ids=UNBUILDABLE.keys())
def test_unbuildable_key_and_profile(tmp_path, value, says):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "p.yaml").write_text(f"name: p\nsteps:\n  - idle: 1s\n? {value}\n: 1\n")
    result = lab_cli("config", "check", profiles / "p.yaml")
    assert result.exit_code == 2, result.output
    assert result.stdout.startswith(f"{profiles / 'p.yaml'}:4:3: ") and says in result.stdout
    # `lab profiles` lists it as invalid (exit 2) instead of stopping
    listed = lab_cli("profiles", "--dir", profiles)
    assert listed.exit_code == 2, (listed.output, listed.exception)
    assert "INVALID" in listed.stdout and says in listed.stdout


def test_commands_that_load_lab_yaml_report_unbuildable_values(tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: x\njurisdiction: IN\nstate_dir: 2024-13-45\n")
    for args in (("restore", "--lab", lab), ("report", tmp_path, "--lab", lab),
                 ("import", tmp_path / "none.har", "--out", tmp_path / "o", "--lab", lab)):
        result = lab_cli(*args)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert result.stderr.startswith(f"lab: {lab}:3:12: state_dir: '2024-13-45' reads as a date"), args
