"""Auditor reports from capture folders: HTML, CSV, XLSX, JSON, Markdown, Parquet.

    write_reports([run_dir, ...], formats=("html",), out=None, reveal=False, lab=None)

writes into `out` (default: the first run's report/ folder) and returns the paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.analysis import Analysis, analyse
from harness.analysis.export import export_missing
from harness.capture import REPORT_DIR
from harness.config import LabConfig, Policy
from harness.errors import CaptureError, ConfigError

FORMATS = ("html", "csv", "xlsx", "json", "md", "parquet")


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """`html,csv` -> ['html', 'csv']; an unknown format is a ConfigError (exit 2)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        if item == "markdown":
            item = "md"
        if item == "all":
            return list(FORMATS)
        if item not in FORMATS:
            raise ConfigError(f"unknown report format {item!r}; choose from {', '.join(FORMATS)}")
        if item not in formats:
            formats.append(item)
    if not formats:
        raise ConfigError(f"no report format given; choose from {', '.join(FORMATS)}")
    return formats


def write_analysis(analysis: Analysis, formats: Sequence[str], out: Path, reveal: bool = False) -> list[Path]:
    """Write an already computed analysis in the given formats into `out`."""
    from harness.report.flat import write_csv, write_json, write_markdown, write_parquet
    from harness.report.html import write_html
    from harness.report.tables import build_tables
    from harness.report.xlsx import write_xlsx

    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    if reveal:
        os.chmod(out, 0o700)
    tables = build_tables(analysis, reveal=reveal)
    writers = {"html": lambda: [write_html(analysis, tables, out)], "csv": lambda: write_csv(tables, out),
               "xlsx": lambda: write_xlsx(tables, out), "json": lambda: write_json(tables, out),
               "md": lambda: write_markdown(tables, out), "parquet": lambda: write_parquet(tables, out)}
    paths: list[Path] = []
    for fmt in parse_formats(formats):
        paths += writers[fmt]()
    return paths


def write_reports(run_dirs: Sequence[Path | str], formats: Sequence[str] | str = ("html",),
                  out: Path | None = None, reveal: bool = False,
                  lab: LabConfig | None = None) -> list[Path]:
    """Analyse the captures (several merge) and write the report files; returns their paths."""
    if not run_dirs:
        raise ConfigError("no capture folder given")
    formats = parse_formats(formats)
    policy = lab.policy if lab is not None else Policy()
    if lab is not None:  # the lab's requirements table and law; else as the captures recorded them
        analysis = analyse([Path(p) for p in run_dirs], policy, lab.requirements, lab.jurisdiction)
    else:
        analysis = analyse([Path(p) for p in run_dirs], policy)
    target = Path(out) if out is not None else Path(run_dirs[0]) / REPORT_DIR
    try:
        paths = write_analysis(analysis, formats, target, reveal)
    except OSError as e:
        raise CaptureError(f"cannot write the report into {target}: {e.strerror or e}") from e
    # each capture's Parquet export (report/export/) when it has none; a failure is logged, not raised
    export_missing([Path(p) for p in run_dirs], policy, analysis)
    return paths
