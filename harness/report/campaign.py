"""`lab campaign report STORE`: the campaign's figures (harness.analysis.campaign) as HTML,
CSV and JSON, in STORE/campaign-report/ unless told otherwise.

Captures without a Parquet export (a run killed before it, an export that failed, a
capture made before exports existed) are exported first, as `lab report` would; one
that cannot be is named in the report and left out of the figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from harness.analysis.campaign import CampaignFigures, campaign_figures
from harness.analysis.export import ExportOutcome, export_missing
from harness.analysis.store import scan_store
from harness.analysis.store_db import store_database
from harness.config import Policy
from harness.errors import CaptureError, ConfigError
from harness.report.flat import defuse
from harness.report.private import private_file
from harness.report.tables import records

FORMATS = ("html", "csv", "json")
REPORT_FOLDER = "campaign-report"
HTML_MAX_ROWS = 2000

SECTIONS = (  # (table, title, note shown above it)
    ("matrix", "Handsets x destination organisations' home countries",
     "Flows from each handset to servers run by organisations of each home country "
     "(handset_countries.csv adds the flows carrying sensitive data, and bytes)."),
    ("data_types", "Data types leaving, per maker, model and firmware",
     "Transmissions are flows carrying the data type; abroad: flagged foreign by the lab's policy."),
    ("firmware_changes", "What changed between firmware versions",
     "Each model's firmware versions in order of security patch, each against the one before."),
    ("verdicts", "Verdict lines",
     "The single-run reports' verdict lines, each with the runs, handsets and firmware versions it was "
     "found in, its flows summed; `example` is one run's wording of it."),
    ("missing_runs", "Runs of the campaign index without a capture", None),
    ("runs", "Runs", None),
)
NO_VERDICTS = ("No capture's export holds verdict lines (exports written before the verdict existed: "
               "`lab campaign report --rebuild-exports` writes them again).")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


@dataclass
class CampaignReport:
    figures: CampaignFigures
    exports: ExportOutcome
    paths: list[Path] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return self.figures.warnings


def parse_formats(text: str | Iterable[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = [i.strip().lower() for i in items if i.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"unknown campaign report format {', '.join(unknown) or '(none)'}; "
                          f"choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(formats))


def _cell(value: Any, matrix: bool) -> tuple[str, str | None]:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "", None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC"), None
    if isinstance(value, bool):
        return ("yes" if value else "no"), None
    if isinstance(value, int | float) or hasattr(value, "dtype"):
        number = float(value)
        text = str(int(number)) if number.is_integer() else f"{number:.1f}"
        return text, "num zero" if matrix and number == 0 else "num"
    return str(value), None


def _section(name: str, title: str, note: str | None, df: pd.DataFrame | None) -> dict[str, Any]:
    if df is None:
        return {"name": name, "title": title, "note": NO_VERDICTS, "columns": [], "rows": [], "total": 0}
    shown = df.head(HTML_MAX_ROWS)
    rows = [[_cell(v, name == "matrix") for v in row] for row in shown.itertuples(index=False, name=None)]
    return {"name": name, "title": title, "note": note, "columns": [str(c) for c in df.columns],
            "rows": rows, "total": len(df)}


def render_html(figures: CampaignFigures, warnings: list[str]) -> str:
    tables = figures.tables()
    sections = [_section(name, title, note, tables.get(name) if name != "verdicts" else figures.verdicts)
                for name, title, note in SECTIONS]
    return _ENV.get_template("campaign.html.j2").render(summary=figures.summary, sections=sections,
                                                          warnings=warnings)


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].astype(object).map(defuse)
    return out


def write_files(figures: CampaignFigures, warnings: list[str], formats: Sequence[str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths: list[Path] = []
    if "html" in formats:
        path = private_file(out / "campaign.html")
        path.write_text(render_html(figures, warnings), encoding="utf-8")
        paths.append(path)
    if "csv" in formats:
        for name, df in figures.tables().items():
            path = private_file(out / f"{name}.csv")
            _csv_ready(df).to_csv(path, index=False)
            paths.append(path)
    if "json" in formats:
        data = {"format": "lab-harness-campaign-report", "format_version": 1, "summary": figures.summary,
                "warnings": warnings, **{name: records(df) for name, df in figures.tables().items()}}
        if figures.verdicts is None:
            data["verdicts"] = None
        path = private_file(out / "campaign-report.json")
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_campaign_report(store_path: Path | str, out: Path | None = None,
                          formats: Sequence[str] | str = FORMATS, policy: Policy | None = None,
                          rebuild_exports: bool = False) -> CampaignReport:
    """Export what lacks an export, compute the figures over the store, write the files."""
    formats = parse_formats(formats)
    store = scan_store(store_path)
    exports = export_missing(store.captures, policy, force=rebuild_exports)
    with store_database(store) as db:
        figures = campaign_figures(db)
    figures.warnings += [f"not reported: {line}" for line in exports.failed]
    target = Path(out) if out is not None else store.root / REPORT_FOLDER
    try:
        paths = write_files(figures, figures.warnings, formats, target)
    except OSError as e:
        raise CaptureError(f"cannot write the campaign report into {target}: {e.strerror or e}") from e
    return CampaignReport(figures, exports, paths)
