"""`lab campaign ...`: campaigns over many handsets and hosts. `report` reads a capture
store (the campaign runner adds `run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli.common import emit_json, lab_option, load_lab_if_present


@click.group()
def campaign() -> None:
    """Campaigns: many handsets, profiles and firmware versions, one capture store."""


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

    result = write_campaign_report(store, out, formats, _policy_of(load_lab_if_present(lab_path)), rebuild_exports=rebuild_exports)
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


@campaign.command("run")
@click.argument("campaign_file", metavar="CAMPAIGN", type=click.Path(path_type=Path))
@click.option("--store", type=click.Path(path_type=Path),
              help="The capture store folder (default: the campaign file's store:).")
@click.option("--scheduler", metavar="tcp://HOST:8786",
              help="Run on this Dask cluster, each handset host running `lab worker` (default: on this "
                   "host, with the campaign's handsets attached here).")
@click.option("--wait", "wait_seconds", type=click.FloatRange(0), default=60.0, show_default=True,
              help="Seconds a run may wait for a worker that offers its handset before it fails.")
@click.option("--name", "host", help="This host's name in the index, embedded mode (default: the host name).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lab_option
def run(campaign_file: Path, store: Path | None, scheduler: str | None, wait_seconds: float, host: str | None,
        quiet: bool, as_json: bool, lab_path: Path) -> None:
    """Run every profile of CAMPAIGN on every handset, each run where its handset is, into one store.

    Runs already done (ok, and their capture still verifies) are skipped; STORE/campaign.json
    indexes every run. Exit 0 when every run is ok, 1 when a baseline pair regressed, 3 when
    a run failed, is partial or missing, 130 when interrupted (Ctrl-C: every run winds down
    and restores its handset)."""
    import logging
    import sys

    from harness.capture.store import open_store
    from harness.config.campaign import load_campaign
    from harness.errors import ConfigError
    from harness.run.campaign import CampaignRun
    from harness.run.campaign_progress import CampaignDisplay
    from harness.run.placement import LabHost, connect, embedded, host_name

    loaded = load_campaign(campaign_file)
    root = store or loaded.store
    if root is None:
        raise ConfigError(f"{campaign_file}: no store: give --store DIR, or store: in the campaign file")
    lab = load_lab_if_present(lab_path)
    if scheduler is None and lab is None:
        raise ConfigError(f"{lab_path}: no such lab file; the runs of this host need one (--lab)")
    logging.getLogger("distributed").setLevel(logging.ERROR)  # its log lines would break the display
    index = open_store(root, {"id": loaded.name, "name": loaded.name, "description": loaded.campaign.description,
                              "file": str(campaign_file.absolute())})
    serials = [h.serial for h in loaded.campaign.handsets]
    placement = connect(scheduler) if scheduler else embedded(LabHost(host_name(host), lab_path, serials))
    with index.locked(), placement as cluster, CampaignDisplay(loaded.name, quiet or as_json) as display:
        outcome = CampaignRun(loaded, index, cluster, display, lab.policy if lab else None,
                              _public_key(lab), wait_seconds).execute()
    if as_json:
        emit_json(outcome.as_dict())
    else:
        for r in outcome.runs:
            where = f" on {r.host}" if r.host else ""
            line = f"{r.key}: {r.status}{where}" + (f" -> {r.capture}" if r.capture else "")
            click.echo(line + (" (done before)" if r.key in outcome.skipped else f" ({r.error})" if r.error else ""))
        for verdict in outcome.baselines:
            click.echo(f"baseline {verdict['pair']} [{verdict['profile']} #{verdict['repetition']}]: "
                       f"{verdict['verdict']}" + (f" ({verdict['reason']})" if verdict.get("reason") else ""))
        missing = outcome.missing
        click.echo(f"{len(outcome.runs) - len(missing)} of {len(outcome.runs)} run(s) ok"
                   + (f"; missing: {', '.join(r.key for r in missing)}" if missing else "")
                   + f"; index: {index.index_path}")
    sys.exit(outcome.exit_code)


def _public_key(lab: Any) -> bytes | None:
    """The key the captures must be signed by (the lab's, when it signs its runs)."""
    from harness.capture.manifest import lab_public_key

    return lab_public_key(lab.signing_key) if lab is not None and lab.signing_key else None


def _policy_of(lab: Any) -> Any:
    return lab.policy if lab is not None else None
