"""Phases of a profile: named runs of consecutive steps (`phase: sim-insertion`).

Every step may carry `phase: NAME` beside its kind key. Consecutive steps with the same
name form that phase; a name may not come back after another phase has begun (a phase is
one interval of the run, which the report measures per phase). The run records each
step's phase in its timeline entry (run.json `steps[].phase`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from harness.config.values import StrictModel

PHASE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_PHASE = re.compile(PHASE_PATTERN)


def check_phase(value: Any) -> str:
    """A phase name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."""
    if not isinstance(value, str) or not _PHASE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a phase name: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (like sim-insertion)"
        )
    return value


PhaseName = Annotated[
    str,
    BeforeValidator(check_phase),
    WithJsonSchema({"type": "string", "pattern": PHASE_PATTERN,
                    "description": "the phase this step belongs to, like sim-insertion"}),
]


class StepModel(StrictModel):
    """A profile step: one kind key (its first field in subclasses) and an optional phase."""

    phase: PhaseName | None = Field(default=None, description="the phase this step belongs to")


def split_phase(phases: Sequence[str | None]) -> tuple[int, str, int] | None:
    """(index, name, earlier index) of the first step whose phase came before and was left;
    None when every phase is one run of consecutive steps."""
    last_seen: dict[str, int] = {}
    previous: str | None = None
    for index, name in enumerate(phases):
        if name is not None and name != previous and name in last_seen:
            return index, name, last_seen[name]
        if name is not None:
            last_seen[name] = index
        previous = name
    return None


def check_phases(steps: Sequence[StepModel]) -> None:
    """Raise a ValidationError at `steps[i].phase` for a phase split by other steps."""
    split = split_phase([s.phase for s in steps])
    if split is None:
        return
    index, name, earlier = split
    error = PydanticCustomError(
        "phase_split",
        "phase '{name}' comes back here after other steps (it was last at steps[{earlier}]); "
        "a phase is a run of consecutive steps: give this part another name",
        {"name": name, "earlier": earlier},
    )
    raise ValidationError.from_exception_data(
        "Profile", [InitErrorDetails(type=error, loc=(index, "phase"), input=name)])

