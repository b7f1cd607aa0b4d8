"""Phases: `phase: NAME` beside a step's kind; consecutive steps of one name form a phase."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from harness.config import load_profile, step_kind, step_phase
from harness.config.lab import ConfigProblems
from harness.config.phases import split_phase
from harness.config.schema import schemas

PHASED = """\
name: p
steps:
  - reboot:
    phase: first-start
  - sim: insert
    phase: sim-insertion
  - wait: 2s
    phase: sim-insertion
  - idle: 20s
    phase: idle
  - wait: 1s
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigProblems) as info:
        load_profile(path)
    return [str(p) for p in info.value.problems]


def test_steps_carry_their_phase(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(PHASED.replace("  - sim: insert\n", "  - wait: 1s\n"))
    profile = load_profile(path)
    assert [step_kind(s) for s in profile.steps] == ["reboot", "wait", "wait", "idle", "wait"]
    assert [step_phase(s) for s in profile.steps] == [
        "first-start", "sim-insertion", "sim-insertion", "idle", None]
    assert profile.steps[0].reboot.capture == 30.0  # `- reboot:` with a phase is still the shorthand


def test_a_phase_split_by_other_steps_is_an_error_at_its_step(tmp_path):
    text = "name: p\nsteps:\n  - wait: 1s\n    phase: a\n  - wait: 1s\n  - wait: 1s\n    phase: a\n"
    (found,) = problems(tmp_path, text)
    assert found.startswith(f"{tmp_path / 'p.yaml'}:7:12: steps[2].phase: phase 'a' comes back")
    assert "it was last at steps[0]" in found


@pytest.mark.parametrize(("phase_line", "where", "fragment"), [
    ("    phase: 'sim insertion'\n", ":4:12: steps[0].phase: ", "not a phase name"),
    ("    phase: ''\n", ":4:12: steps[0].phase: ", "not a phase name"),
    ("    phase: [a]\n", ":4:12: steps[0].phase: ", "not a phase name"),
    ("    phase: \"a\\n\"\n", ":4:12: steps[0].phase: ", "not a phase name"),
    ("    phas: idle\n", ":4:5: steps[0].phas: ", "did you mean 'phase'"),
])
def test_bad_phases_name_file_line_and_key(tmp_path, phase_line, where, fragment):
    (found,) = problems(tmp_path, "name: p\nsteps:\n  - wait: 1s\n" + phase_line)
    assert f"{tmp_path / 'p.yaml'}{where}" in found and fragment in found, found


def test_a_phase_alone_is_no_step(tmp_path):
    (found,) = problems(tmp_path, "name: p\nsteps:\n  - phase: idle\n")
    assert "steps[0]: a step is a mapping with exactly one key" in found


@pytest.mark.parametrize(("phases", "split"), [
    ([None, "a", "a", None, "b", "b"], None),
    (["a", "b", "a"], (2, "a", 0)),
    (["a", None, "a"], (2, "a", 0)),
    (["a", "a", "b", "b", "c", "b"], (5, "b", 3)),
    ([], None),
])
def test_split_phase(phases, split):
    assert split_phase(phases) == split


def test_schema_takes_a_phase_beside_the_kind():
    validator = jsonschema.Draft202012Validator(schemas()["profile"])
    assert validator.is_valid({"name": "p", "steps": [{"idle": "5s", "phase": "idle"}]})
    assert validator.is_valid({"name": "p", "steps": [{"reboot": None, "phase": "boot"}]})
    assert not validator.is_valid({"name": "p", "steps": [{"idle": "5s", "phase": "a b"}]})
    assert not validator.is_valid({"name": "p", "steps": [{"phase": "idle"}]})
