"""Standards: the requirement identifiers each finding maps to.

The project ships a table (harness/analysis/data/requirements.csv) of OWASP MASVS v2
controls, MASWE weaknesses and MASTG tests, ETSI EN 303 645 provisions and the lab's own
law (India's DPDP Act 2023 s.16, for labs whose jurisdiction is IN), each row with the
findings it applies to (harness.config.requirements.Trigger) and its source. lab.yaml's
`requirements:` extends it (a row with a shipped id takes that row's place) or replaces
it. A finding's requirements are the rows applying to any of its triggers, in table
order; the report's requirements section lists every row with the findings that map to it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from typing import Any

import pandas as pd
from pydantic import ValidationError

from harness.config.csv_table import csv_rows
from harness.config.requirements import Requirement, RequirementsConfig
from harness.errors import ConfigError

HEADER = ["id", "standard", "title", "applies_to", "jurisdiction", "source"]
REQUIREMENT_COLUMNS = ["requirement", "standard", "title", "status", "findings", "verdict_lines", "applies_to",
                       "source"]


def parse_requirement_table(text: str, origin: str = "requirements.csv") -> tuple[Requirement, ...]:
    """Rows `id,standard,title,applies_to,jurisdiction,source` (applies_to: triggers separated
    by spaces); `#` lines are comments. A bad row is a ConfigError naming it."""
    out = []
    for number, row in csv_rows(text, HEADER, origin):
        cells = dict(zip(HEADER, row, strict=True))
        try:
            out.append(Requirement.model_validate({
                **cells, "applies_to": cells["applies_to"].split(),
                "jurisdiction": cells["jurisdiction"] or None, "source": cells["source"] or None}))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{origin}: row {number} ({cells['id'] or '?'}): {where}: {first['msg']}") from e
    twice = _first_duplicate(r.id for r in out)
    if twice is not None:
        raise ConfigError(f"{origin}: requirement {twice} is listed twice")
    return tuple(out)


def _first_duplicate(ids: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return None


@functools.cache
def shipped_requirements() -> tuple[Requirement, ...]:
    text = resources.files("harness.analysis").joinpath("data/requirements.csv").read_text(encoding="utf-8")
    return parse_requirement_table(text, "harness/analysis/data/requirements.csv")


class RequirementTable:
    """The rows that apply to a lab: the shipped table as lab.yaml extends or replaces it,
    without the rows of another jurisdiction."""

    def __init__(self, rows: Iterable[Requirement], jurisdiction: str | None = None):
        self.jurisdiction = jurisdiction
        self.rows = tuple(r for r in rows if r.jurisdiction is None or r.jurisdiction == jurisdiction)

    @classmethod
    def for_lab(cls, config: RequirementsConfig | None = None, jurisdiction: str | None = None) -> RequirementTable:
        config = config or RequirementsConfig()
        if config.replace:
            return cls(config.rows, jurisdiction)
        own = {r.id: r for r in config.rows}
        rows = [own.pop(r.id, r) for r in shipped_requirements()]
        return cls(rows + list(own.values()), jurisdiction)

    def ids(self, triggers: Iterable[str]) -> list[str]:
        """The ids of the rows applying to any of `triggers`, in table order."""
        wanted = {str(t) for t in triggers}
        return [r.id for r in self.rows if wanted.intersection(str(a) for a in r.applies_to)]

    def get(self, requirement_id: str) -> Requirement | None:
        return next((r for r in self.rows if r.id == requirement_id), None)


def requirements_frame(table: RequirementTable, verdict: pd.DataFrame) -> pd.DataFrame:
    """One row per requirement: the verdict lines mapping to it (their numbers), or none."""
    lines: dict[str, list[int]] = {r.id: [] for r in table.rows}
    if not verdict.empty:
        for number, ids in zip(verdict["n"], verdict["requirements"], strict=True):
            for rid in str(ids).split(", "):
                if rid in lines:
                    lines[rid].append(int(number))
    rows = []
    for r in table.rows:
        hits = lines[r.id]
        rows.append({
            "requirement": r.id, "standard": r.standard, "title": r.title,
            "status": "finding" if hits else "no finding", "findings": len(hits),
            "verdict_lines": ", ".join(str(n) for n in hits),
            "applies_to": " ".join(str(t) for t in r.applies_to), "source": r.source or "",
        })
    return pd.DataFrame(rows, columns=REQUIREMENT_COLUMNS)  # in table order: standard by standard


def table_for_runs(runs: Iterable[dict[str, Any]], config: RequirementsConfig | None = None,
                   jurisdiction: str | None = None) -> tuple[RequirementTable, list[str]]:
    """The table for captures: the lab's (`config`, `jurisdiction`) when given, else as
    the first run's lab snapshot (run.json's `lab`) recorded it, else the shipped one;
    with a warning for a snapshot whose table does not validate."""
    warnings = []
    for run in runs:
        lab = run.get("lab")
        if not isinstance(lab, dict):
            continue
        if jurisdiction is None and isinstance(lab.get("jurisdiction"), str):
            jurisdiction = lab["jurisdiction"]
        if config is None and isinstance(lab.get("requirements"), dict):
            try:
                config = RequirementsConfig.model_validate(lab["requirements"])
            except ValidationError as e:
                warnings.append(f"run {run.get('run_id', '?')}: its lab's requirements table does not "
                                f"validate ({e.error_count()} error(s)); the shipped table is used")
        break
    return RequirementTable.for_lab(config, jurisdiction), warnings
