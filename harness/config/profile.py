"""The profile model (`profiles/*.yaml`): target apps, hook sets, ordered steps.

Imported through `harness.config.lab`, which also loads files with positions. A step is a
mapping with exactly one key naming its kind (`- idle: 30s`, `- launch: {package: ...}`)
and optionally `phase: NAME` beside it (see harness.config.phases); a bare `- reboot` is
short for `- reboot: {}`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.config.phases import StepModel, check_phases
from harness.config.scenario_steps import (
    SCENARIO_EXAMPLES,
    SCENARIO_KINDS,
    AccountStep,
    PromptStep,
    SettingsStep,
    SimStep,
)
from harness.config.values import (
    Count,
    Duration,
    PackageName,
    Permission,
    StrictModel,
    did_you_mean,
    first_duplicate,
)

_ACTIVITY = re.compile(r"^\.?[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_$]*)*$")
_KEYEVENT = re.compile(r"^(KEYCODE_[A-Z0-9_]+|[A-Z][A-Z0-9_]*|\d{1,3})$")
_TEXT = re.compile(r"^[\x20-\x7e]{1,512}$")
_ACTION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]{0,2000}$")


class HookSet(StrEnum):
    SENSITIVE = "sensitive"
    NETWORK = "network"
    UNPIN = "unpin"


class AppTarget(StrictModel):
    package: PackageName
    apk: Path | None = Field(default=None, description="APK to install before the run")
    grant: list[Permission] = Field(default_factory=list, description="permissions to grant")
    revoke: list[Permission] = Field(default_factory=list, description="permissions to revoke")

    @field_validator("revoke", mode="after")
    @classmethod
    def _no_overlap(cls, value: list[str], info: ValidationInfo) -> list[str]:
        both = sorted(set(info.data.get("grant") or ()) & set(value))
        if both:
            raise ValueError(f"{', '.join(both)} is both granted and revoked")
        return value


class LaunchArgs(StrictModel):
    package: PackageName
    activity: str | None = Field(default=None, description="activity class; default the launcher's")
    spawn: bool = Field(default=False, description="spawn under Frida instead of attaching after start")
    wait: Duration = Field(default=5.0, description="how long to stay after launching")

    @field_validator("activity")
    @classmethod
    def _activity(cls, value: str | None) -> str | None:
        if value is not None and not _ACTIVITY.fullmatch(value):
            raise ValueError(f"{value!r} is not an activity class name (like .MainActivity)")
        return value


class MonkeyArgs(StrictModel):
    package: PackageName
    events: Count = Field(default=100, ge=1, le=1_000_000)
    seed: Count = Field(default=1, ge=0, le=2**63 - 1, description="same seed, same events")
    throttle: Duration = Field(default=0.1, description="pause between events")


class InputArgs(StrictModel):
    """Exactly one of tap, text, keyevent."""

    tap: tuple[Count, Count] | None = Field(default=None, description="[x, y] in pixels")
    text: str | None = Field(default=None, description="printable ASCII, 1-512 characters",
                             json_schema_extra={"pattern": _TEXT.pattern})
    keyevent: str | int | None = Field(default=None, description="KEYCODE_HOME, HOME or 3",
                                       json_schema_extra={"pattern": _KEYEVENT.pattern})

    @field_validator("tap")
    @classmethod
    def _tap(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (min(value) < 0 or max(value) > 100_000):
            raise ValueError("tap coordinates must be 0..100000")
        return value

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not _TEXT.fullmatch(value)):
            raise ValueError("text must be printable ASCII, 1 to 512 characters")
        return value

    @field_validator("keyevent", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"{value!r} is not a key code (like KEYCODE_HOME or 3)")
        value = str(value)
        if not _KEYEVENT.fullmatch(value):
            raise ValueError(f"{value!r} is not a key code (like KEYCODE_HOME or 3)")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> InputArgs:
        given = [k for k in ("tap", "text", "keyevent") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"input takes exactly one of tap, text, keyevent (got {', '.join(given) or 'none'})"
            )
        return self


class IntentArgs(StrictModel):
    action: str = Field(description="like android.intent.action.VIEW")
    data: str | None = Field(default=None, description="a URI, like https://example.com/")
    package: PackageName | None = None

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        if not _ACTION.fullmatch(value):
            raise ValueError(f"{value!r} is not an intent action (like android.intent.action.VIEW)")
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: str | None) -> str | None:
        if value is not None and not _URI.fullmatch(value):
            raise ValueError(f"{value!r} is not a URI (scheme:rest, printable, no spaces)")
        return value


class RebootArgs(StrictModel):
    capture: Duration = Field(default=30.0, description="how long to record boot-time traffic")


class StopArgs(StrictModel):
    package: PackageName


class LaunchStep(StepModel):
    launch: LaunchArgs


class MonkeyStep(StepModel):
    monkey: MonkeyArgs


class InputStep(StepModel):
    input: InputArgs


class IntentStep(StepModel):
    intent: IntentArgs


class WaitStep(StepModel):
    wait: Duration


class IdleStep(StepModel):
    """No app in front: what the firmware sends on its own."""

    idle: Duration


class RebootStep(StepModel):
    reboot: RebootArgs = Field(default_factory=RebootArgs)


class StopStep(StepModel):
    stop: StopArgs


STEP_KINDS = ("launch", "monkey", "input", "intent", "wait", "idle", "reboot", "stop", *SCENARIO_KINDS)
_EXAMPLES = {
    **SCENARIO_EXAMPLES,
    "launch": "- launch: {package: com.example.app}",
    "monkey": "- monkey: {package: com.example.app, events: 100, seed: 7}",
    "input": "- input: {text: hello}",
    "intent": "- intent: {action: android.intent.action.VIEW, data: 'https://example.com/'}",
    "wait": "- wait: 5s",
    "idle": "- idle: 60s",
    "stop": "- stop: {package: com.example.app}",
}


def _kind_keys(value: dict[Any, Any]) -> list[Any]:
    """The keys of a step mapping that may name its kind (all but `phase`)."""
    return [k for k in value if k != "phase"]


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in value if k in STEP_KINDS]
        return kinds[0] if len(kinds) == 1 else None
    if isinstance(value, BaseModel):
        return step_kind(value)
    return None


def _step_shorthand(value: Any) -> Any:
    if value == "reboot":
        return {"reboot": {}}
    if isinstance(value, dict) and _kind_keys(value) == ["reboot"] and value["reboot"] is None:
        return {**value, "reboot": {}}
    if isinstance(value, str) and value in STEP_KINDS:
        raise PydanticCustomError(
            "step_shape", "step '{kind}' needs a value, like: {example}",
            {"kind": value, "example": _EXAMPLES[value]},
        )
    if isinstance(value, str):
        raise PydanticCustomError(
            "unknown_step", "unknown step '{kind}'{hint}; steps are: {known}",
            {"kind": value, "hint": did_you_mean(value, STEP_KINDS, 0.5),
             "known": ", ".join(STEP_KINDS)},
        )
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, dict) and len([k for k in value if k in STEP_KINDS]) == 1:
        return value  # any other key is the step model's to name (unknown key, did you mean)
    if not isinstance(value, dict) or len(_kind_keys(value)) != 1:
        raise PydanticCustomError(
            "step_shape", "a step is a mapping with exactly one key, one of: {kinds} "
            "(and optionally phase: NAME)",
            {"kinds": ", ".join(STEP_KINDS)},
        )
    (kind,) = _kind_keys(value)
    if kind not in STEP_KINDS:
        hint = did_you_mean(str(kind), STEP_KINDS, 0.5)
        raise PydanticCustomError(
            "unknown_key", "unknown step '{key}'{hint}; steps are: {known}",
            {"key": str(kind), "hint": hint, "known": ", ".join(STEP_KINDS)},
        )
    return value


Step = Annotated[
    Union[  # noqa: UP007 - tagged members read better in a Union[...]
        Annotated[LaunchStep, Tag("launch")],
        Annotated[MonkeyStep, Tag("monkey")],
        Annotated[InputStep, Tag("input")],
        Annotated[IntentStep, Tag("intent")],
        Annotated[WaitStep, Tag("wait")],
        Annotated[IdleStep, Tag("idle")],
        Annotated[RebootStep, Tag("reboot")],
        Annotated[StopStep, Tag("stop")],
        Annotated[SettingsStep, Tag("settings")],
        Annotated[SimStep, Tag("sim")],
        Annotated[AccountStep, Tag("account")],
        Annotated[PromptStep, Tag("prompt")],
    ],
    Discriminator(_step_kind),
    BeforeValidator(_step_shorthand),
]


def step_kind(step: BaseModel) -> str:
    """'launch', 'monkey', ... for a step model."""
    return next(name for name in type(step).model_fields if name != "phase")


def step_phase(step: BaseModel) -> str | None:
    """The phase a step belongs to (`phase: NAME`), or None."""
    return getattr(step, "phase", None)


SCREEN_STEPS = ("launch", "monkey", "input", "intent")  # they act on what the screen shows


def needs_screen(step: BaseModel) -> bool:
    """The step acts on the screen (an app in front, taps, keys), so a locked or dark one
    would swallow it; idle, reboot, waits and switches by shell command do not."""
    kind = step_kind(step)
    return kind in SCREEN_STEPS or (kind == "settings" and bool(getattr(step, kind).open))


def step_seconds(step: BaseModel) -> float:
    """The least time a step takes (its waits, idles, boot capture, monkey throttle); a
    manual step's timeout is the most it takes, not counted."""
    kind = step_kind(step)
    args = getattr(step, kind)
    if kind in ("wait", "idle"):
        return float(args)
    if kind == "launch":
        return args.wait
    if kind == "reboot":
        return args.capture
    if kind == "monkey":
        return args.events * args.throttle
    return 0.0


class Profile(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                      description="letters, digits, . _ -; used in capture folder names")
    description: str = ""
    apps: list[AppTarget] = Field(default_factory=list, description="apps under test")
    hooks: list[HookSet] = Field(default_factory=lambda: [HookSet.SENSITIVE, HookSet.NETWORK])
    unpin: list[PackageName] = Field(default_factory=list, description="packages whose pinning is hooked away")
    steps: list[Step] = Field(min_length=1, max_length=1000)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", value):
            raise ValueError(
                f"{value!r} is not a profile name: 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("steps", mode="after")
    @classmethod
    def _phases(cls, value: list[StepModel]) -> list[StepModel]:
        check_phases(value)
        return value

    @field_validator("apps", mode="after")
    @classmethod
    def _unique_apps(cls, value: list[AppTarget]) -> list[AppTarget]:
        twice = first_duplicate(a.package for a in value)
        if twice is not None:
            raise ValueError(f"app {twice} is listed twice")
        return value

    def estimated_seconds(self) -> float:
        """A lower bound of the run time: the sum of the steps' waits (no handset latency)."""
        return sum(step_seconds(step) for step in self.steps)
