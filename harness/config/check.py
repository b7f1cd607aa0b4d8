"""`lab config check` and `lab profiles`: validate files, list profiles.

A file is a profile if it has `steps`, a lab file if it has `jurisdiction`, a campaign if
it has `handsets`; else the one whose other keys it shares more of (`policy`, `devices`...
or `apps`, `hooks`...). When its content does not say (empty, unparsable), its location
decides: a file in a `profiles/` folder is a profile, in a `campaigns/` folder a campaign,
one named `lab*.yaml` a lab file. A campaign is checked with the profiles it names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.config.campaign import Campaign, validate_campaign
from harness.config.lab import (
    ConfigProblem,
    ConfigProblems,
    LabConfig,
    Profile,
    validate_lab,
    validate_profile,
)
from harness.config.yaml_source import YamlDocument, load_with_positions
from harness.errors import ConfigError

Kind = Literal["lab", "profile", "campaign", "unknown"]
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class CheckResult:
    path: str
    kind: Kind
    ok: bool
    errors: list[str] = field(default_factory=list)
    problems: tuple[ConfigProblem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "ok": self.ok, "errors": list(self.errors),
                "problems": [p.as_dict() for p in self.problems]}


def kind_of(path: Path, data: Any) -> Kind:
    """'profile' / 'lab' from the content, else from the location, else 'unknown'."""
    if isinstance(data, dict):
        if "steps" in data:
            return "profile"
        if "jurisdiction" in data:
            return "lab"
        if "handsets" in data:
            return "campaign"
        keys = {str(k) for k in data} - {"name", "description"}
        shared: dict[Kind, int] = {kind: len(keys & set(model.known_keys())) for kind, model in
                                   (("lab", LabConfig), ("profile", Profile), ("campaign", Campaign))}
        best = max(shared.values())
        if best and list(shared.values()).count(best) == 1:
            return next(kind for kind, count in shared.items() if count == best)
    if path.parent.name == "profiles":
        return "profile"
    if path.parent.name == "campaigns":
        return "campaign"
    if path.name.startswith("lab") and path.suffix in YAML_SUFFIXES:
        return "lab"
    return "unknown"


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; a folder stands for its *.yaml / *.yml files."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file()))
        else:
            out.append(path)
    return out


def check_file(path: Path | str) -> CheckResult:
    path = Path(path)
    name = str(path)
    try:
        doc = load_with_positions(path)
    except ConfigProblems as e:
        return _failed(name, kind_of(path, None), e.problems)
    except ConfigError as e:
        return CheckResult(name, kind_of(path, None), False, str(e).splitlines())
    kind = kind_of(path, doc.data)
    if kind == "unknown":
        problem = ConfigProblem(
            name, 1, 1, "",
            "cannot tell a lab file from a profile or a campaign: a profile has `steps`, a lab file "
            "`jurisdiction`, a campaign `handsets`",
        )
        return _failed(name, kind, (problem,))
    return _validated(name, kind, doc)


def _validated(name: str, kind: Kind, doc: YamlDocument) -> CheckResult:
    try:
        if kind == "profile":
            validate_profile(doc)
        elif kind == "campaign":
            validate_campaign(doc)
        else:
            validate_lab(doc)
    except ConfigProblems as e:
        return _failed(name, kind, e.problems)
    return CheckResult(name, kind, True)


def _failed(name: str, kind: Kind, problems: tuple[ConfigProblem, ...]) -> CheckResult:
    return CheckResult(name, kind, False, [str(p) for p in problems], tuple(problems))


def check_files(paths: Iterable[Path | str]) -> list[CheckResult]:
    """Validate each file (folders: their YAML files); one result per file, in order."""
    files = _expand(paths)
    if not files:
        raise ConfigError("no YAML files to check")
    return [check_file(path) for path in files]


def list_profiles(directory: Path | str) -> list[dict[str, Any]]:
    """Every profile in `directory`: name, path, description, steps, estimated seconds, ok, error.

    A profile that does not validate is still listed, with `ok: False` and its first error.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such folder of profiles")
    rows: list[dict[str, Any]] = []
    for path in _expand([directory]):
        row: dict[str, Any] = {"name": path.stem, "path": str(path), "description": "",
                               "steps": None, "estimated_seconds": None, "ok": True, "error": None}
        try:
            profile: Profile = validate_profile(load_with_positions(path))
        except ConfigError as e:
            row.update(ok=False, error=str(e).splitlines()[0])
        else:
            row.update(name=profile.name, description=" ".join(profile.description.split()),
                       steps=len(profile.steps), estimated_seconds=profile.estimated_seconds())
        rows.append(row)
    return rows
