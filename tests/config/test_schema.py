"""The committed JSON Schemas match the models, and accept/refuse what the models do."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.config.schema import FILES, render, schemas, write_schemas

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["lab", "profile"])
def test_committed_schema_is_in_sync(kind):
    committed = (ROOT / "schemas" / FILES[kind]).read_text(encoding="utf-8")
    assert committed == render(schemas()[kind]), (
        f"schemas/{FILES[kind]} is stale: run `make schema` (lab config schema --write schemas/)"
    )


def test_write_schemas_round_trips(tmp_path):
    paths = write_schemas(tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(FILES.values())
    for kind, name in FILES.items():
        assert json.loads((tmp_path / "out" / name).read_text()) == schemas()[kind]


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = schemas()[kind]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_shipped_files_pass_their_schema():
    assert not list(validator("lab").iter_errors(yaml.safe_load((ROOT / "lab.yaml").read_text())))
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        errors = list(validator("profile").iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, [e.message for e in errors])


def test_files_point_editors_at_the_schemas():
    assert (ROOT / "lab.yaml").read_text().startswith(
        "# yaml-language-server: $schema=schemas/lab.schema.json")
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        assert path.read_text().startswith(
            "# yaml-language-server: $schema=../schemas/profile.schema.json"), path


GOOD_STEPS = ["reboot", {"reboot": None}, {"reboot": {"capture": "1m"}}, {"idle": "1m30s"},
              {"wait": 2.5}, {"input": {"keyevent": 3}}, {"input": {"tap": [1, 2]}},
              {"monkey": {"package": "com.x.y", "seed": 7, "throttle": "50ms"}}]
BAD_STEPS = [{"launch": {"package": "com.x;reboot"}}, {"launch": {"package": "x"}},
             {"idle": "10q"}, {"lanch": {"package": "com.x.y"}}, {}, "idle",
             {"idle": "1s", "wait": "1s"}, {"monkey": {"package": "com.x.y", "seeed": 1}},
             {"input": {"text": "héllo"}}, {"input": {"keyevent": "rm -rf"}}]


@pytest.mark.parametrize("step", GOOD_STEPS, ids=str)
def test_schema_accepts_step(step):
    assert validator("profile").is_valid({"name": "p", "steps": [step]})


@pytest.mark.parametrize("step", BAD_STEPS, ids=str)
def test_schema_refuses_step(step):
    assert not validator("profile").is_valid({"name": "p", "steps": [step]})


@pytest.mark.parametrize("lab", [
    {"name": "t", "jurisdiction": "XX"},
    {"name": "t", "jurisdiction": "IN", "jurisdicton": "IN"},
    {"name": "t", "jurisdiction": "IN", "proxy": {"port": 70000}},
    {"name": "t", "jurisdiction": "IN", "policy": {"allowed_domains": ["a..b"]}},
    {"name": "t", "jurisdiction": "IN", "policy": {"severity": {"foriegn": "high"}}},
], ids=str)
def test_schema_refuses_lab(lab):
    assert not validator("lab").is_valid(lab)


def test_schema_is_machine_independent():
    text = render(schemas()["lab"])
    assert str(Path.home()) not in text
