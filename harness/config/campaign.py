"""Campaign files (`campaign.yaml`): handsets x profiles x repetitions, baseline pairs for
regression verdicts, and the capture store the runs go to. Validated like profiles
(file:line:column errors, unknown keys with "did you mean"); `load_campaign` also loads
every profile the campaign names, so a typo in one is an error before any run starts.

Relative paths (profiles, store, baseline captures) are relative to the campaign file's
folder, so one file works from any working directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from harness.config.lab import DeviceEntry, validate_profile
from harness.config.profile import Profile
from harness.config.validation import validate_model
from harness.config.values import StrictModel, first_duplicate
from harness.config.yaml_source import (
    ConfigProblem,
    ConfigProblems,
    YamlDocument,
    format_path,
    load_with_positions,
)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
MAX_REPETITIONS = 100


def check_campaign_name(value: Any) -> str:
    """A campaign name: it names the store's index, Dask task keys and log lines."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a campaign name: 1 to 64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return value


CampaignName = Annotated[
    str,
    BeforeValidator(check_campaign_name),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN,
                    "description": "the campaign's name (letters, digits, . _ -)"}),
]


def _handset_shorthand(value: Any) -> Any:
    """`- virtual:vendor-1.0` stands for `- serial: virtual:vendor-1.0`."""
    return {"serial": value} if isinstance(value, str) else value


class CampaignHandset(StrictModel):
    """A handset of the campaign, by the serial the host that has it knows it by."""

    serial: str = Field(description="adb serial, host:port, or virtual:<handset> (as in lab.yaml devices)")
    label: str | None = Field(default=None, max_length=200, description="how reports name the handset")

    @field_validator("serial")
    @classmethod
    def _serial(cls, value: str) -> str:
        try:
            return DeviceEntry(serial=value).serial  # lab.yaml's rule for a device serial
        except ValidationError as e:
            raise ValueError(e.errors()[0]["msg"].removeprefix("Value error, ")) from None


HandsetItem = Annotated[CampaignHandset, BeforeValidator(_handset_shorthand)]  # schema: config/schema.py


class PairSide(StrictModel):
    """One side of a baseline pair: a handset of this campaign, or a capture folder."""

    model_config = {**StrictModel.model_config,
                    "json_schema_extra": {"oneOf": [{"required": ["handset"]}, {"required": ["capture"]}]}}
    handset: str | None = Field(default=None, description="serial of one of the campaign's handsets")
    capture: Path | None = Field(default=None, description="a capture folder (relative: to the campaign file)")

    @model_validator(mode="after")
    def _one(self) -> PairSide:
        if (self.handset is None) == (self.capture is None):
            raise ValueError("give exactly one of handset: SERIAL or capture: FOLDER")
        return self

    def describe(self) -> str:
        return f"handset {self.handset}" if self.handset is not None else f"capture {self.capture}"


class BaselinePair(StrictModel):
    """Firmware A (baseline) against firmware B (new): a regression verdict per profile."""

    name: str | None = Field(default=None, max_length=200)
    baseline: PairSide
    new: PairSide
    profiles: list[str] = Field(default_factory=list,
                                description="names of the profiles to compare (default: every one)")


class Campaign(StrictModel):
    name: CampaignName
    description: str = ""
    profiles: list[Path] = Field(min_length=1, description="profile files (relative: to the campaign file)")
    handsets: list[HandsetItem] = Field(min_length=1)
    repetitions: int = Field(default=1, ge=1, le=MAX_REPETITIONS, strict=True,
                             description="runs of each profile on each handset")
    baselines: list[BaselinePair] = Field(default_factory=list,
                                          description="baseline pairs for regression verdicts")
    store: Path | None = Field(default=None, description="the capture store folder (`--store` overrides it)")

    @field_validator("handsets", mode="after")
    @classmethod
    def _unique_handsets(cls, value: list[CampaignHandset]) -> list[CampaignHandset]:
        twice = first_duplicate(h.serial for h in value)
        if twice is not None:
            raise ValueError(f"handset {twice} is listed twice")
        return value

    @field_validator("profiles", mode="after")
    @classmethod
    def _unique_profiles(cls, value: list[Path]) -> list[Path]:
        twice = first_duplicate(str(p) for p in value)
        if twice is not None:
            raise ValueError(f"profile {twice} is listed twice")
        return value

@dataclass(frozen=True)
class CampaignProfile:
    """A profile of the campaign: its file (resolved), its text (sent to the workers), its model."""

    path: Path
    text: str
    profile: Profile

    @property
    def name(self) -> str:
        return self.profile.name


@dataclass(frozen=True)
class LoadedCampaign:
    """A validated campaign with its profiles loaded and its relative paths resolved."""

    path: Path
    campaign: Campaign
    profiles: tuple[CampaignProfile, ...]
    store: Path | None  # the file's `store:`, resolved; `--store` overrides it
    pair_captures: dict[tuple[int, str], Path]  # (pair index, 'baseline'|'new') -> capture folder

    @property
    def name(self) -> str:
        return self.campaign.name

    def profile(self, name: str) -> CampaignProfile:
        return next(p for p in self.profiles if p.name == name)


def validate_campaign(doc: YamlDocument) -> LoadedCampaign:
    """Validate a parsed campaign document, then load the profiles it names; every problem
    names file:line:column (a profile's own problems name the profile file)."""
    campaign: Campaign = validate_model(Campaign, doc)
    base = Path(doc.file).parent
    problems: list[ConfigProblem] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        pos = doc.value_position_of(path)
        problems.append(ConfigProblem(pos.file, pos.line, pos.column, format_path(path), message))

    profiles: list[CampaignProfile] = []
    seen: set[str] = set()
    for index, raw in enumerate(campaign.profiles):
        path = base / raw
        try:
            loaded = load_with_positions(path)
            profiles.append(CampaignProfile(path, path.read_text(encoding="utf-8"), validate_profile(loaded)))
        except ConfigProblems as e:
            problems.extend(e.problems)
            continue
        except OSError as e:
            problem(("profiles", index), f"{path}: cannot read: {e.strerror or e}")
            continue
        if profiles[-1].name in seen:
            problem(("profiles", index), f"two profiles are named {profiles[-1].name!r}: "
                                         "a campaign tells its runs apart by profile name")
        seen.add(profiles[-1].name)
    names = [p.name for p in profiles]
    pair_captures: dict[tuple[int, str], Path] = {}
    serials = {h.serial for h in campaign.handsets}
    for index, pair in enumerate(campaign.baselines):
        if pair.baseline == pair.new:
            problem(("baselines", index, "new"), f"baseline and new are the same {pair.new.describe()}")
        for side_name in ("baseline", "new"):
            side: PairSide = getattr(pair, side_name)
            if side.handset is not None and side.handset not in serials:
                problem(("baselines", index, side_name, "handset"),
                        f"{side.handset} is not one of the campaign's handsets ({', '.join(sorted(serials))})")
            if side.capture is not None:
                folder = base / side.capture
                if not folder.is_dir():
                    problem(("baselines", index, side_name, "capture"), f"{folder}: no such capture folder")
                pair_captures[(index, side_name)] = folder
        if len(profiles) == len(campaign.profiles):
            for name in pair.profiles:
                if name not in names:
                    problem(("baselines", index, "profiles"),
                            f"{name!r} is not one of the campaign's profiles ({', '.join(names)})")
    if problems:
        raise ConfigProblems(problems)
    store = base / campaign.store if campaign.store is not None else None
    return LoadedCampaign(Path(doc.file), campaign, tuple(profiles), store, pair_captures)


def load_campaign(path: Path | str) -> LoadedCampaign:
    """Load and validate a campaign file and its profiles; raises ConfigProblems (a ConfigError)."""
    return validate_campaign(load_with_positions(path))
