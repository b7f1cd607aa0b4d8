"""`lab campaign ...`: campaigns over many handsets and hosts. `report` reads a capture
store (the campaign runner adds `run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli.common import emit_json, lab_option


@click.group()
def campaign() -> None:
    """Campaigns: many handsets, profiles and firmware versions, one capture store."""


def _policy(lab_path: Path) -> Any:
    """lab.yaml's policy when the file is there (the default path may be absent): else None."""
    from harness.config import load_lab

    if lab_path == Path("lab.yaml") and not lab_path.exists():
        return None
    return load_lab(lab_path).policy


@campaign.command("report")
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default STORE/campaign-report).")
@click.option("--format", "formats", default="html,csv,json", show_default=True,
              help="Comma-separated: html,csv,json.")
@click.option("--rebuild-exports", is_flag=True,
              help="Write every capture's Parquet export again, not only the missing ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the files written as JSON.")
@lab_option
def report(store: Path, out: Path | None, formats: str, rebuild_exports: bool, as_json: bool,
           lab_path: Path) -> None:
    """Report a capture store: handsets x destination organisations' home countries, the data
    types leaving per maker, model and firmware, what changed between firmware versions.

    STORE is a folder of capture folders (any depth), with an optional campaign.json index.
    Captures without a Parquet export are exported first; DuckDB then reads the exports
    where they lie."""
    from harness.report.campaign import write_campaign_report

    result = write_campaign_report(store, out, formats, _policy(lab_path), rebuild_exports=rebuild_exports)
    summary = result.figures.summary
    if as_json:
        emit_json({"summary": summary, "exported": [str(p) for p in result.exports.written],
                   "warnings": result.warnings, "files": [str(p) for p in result.paths]})
        return
    for warning in result.warnings:
        click.echo(f"lab: warning: {warning}", err=True)
    click.echo(f"{summary['captures_reported']} of {summary['captures']} capture(s) "
               f"({len(result.exports.written)} exported now), {summary['handsets']} handset(s), "
               f"{summary['models']} model(s), {summary['firmware_versions']} firmware version(s), "
               f"{summary['flows']} flows")
    for path in result.paths:
        click.echo(str(path))
