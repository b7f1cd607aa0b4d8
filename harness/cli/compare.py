"""`lab diff` and `lab regress`: a new capture against its baseline, after both are
verified and known complete; exit 1 on a regression."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import emit_json, lab_option, load_lab_if_present
from harness.cli.handsets import RUN_DEVICE_HELP, chosen, device_option
from harness.errors import DeviceError


@click.command()
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (same as --format json).")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option("--key", type=click.Path(path_type=Path),
              help="Public key the captures must be signed by (default: the lab's signing_key, if any).")
@click.option("--no-verify", is_flag=True, help="Compare captures even if they fail `lab verify`.")
@click.option("--allow-partial", is_flag=True,
              help="Compare captures of runs that did not complete (a step failed, interrupted, killed); "
                   "each is named on stderr.")
@lab_option
def diff(baseline: Path, new: Path, fmt: str, as_json: bool, junit: Path | None, key: Path | None,
         no_verify: bool, allow_partial: bool, lab_path: Path) -> None:
    """Compare a new capture with its baseline; exit 1 on a regression.

    A capture of a run that did not complete (status partial, failed or interrupted, or no
    run.json) is not judged (exit 2) unless --allow-partial is given.

    Both are verified first, as `lab verify` does: one that fails is not compared (exit 2)
    unless --no-verify is given."""
    from harness.cli.evidence import checked_inputs
    from harness.diff import RENDERERS, diff_captures, junit_xml

    lab = load_lab_if_present(lab_path)
    checked = checked_inputs([baseline], [new], no_verify=no_verify, key=key, lab=lab, junit=junit)
    result = diff_captures([baseline], [new], lab.policy if lab is not None else None, checked,
                           allow_partial=allow_partial)
    for gap in result.incomplete:
        click.echo(f"lab: warning: {gap.describe()}: judged anyway (--allow-partial)", err=True)
    if junit:
        junit.write_text(junit_xml(result), encoding="utf-8")
    click.echo(RENDERERS["json" if as_json else fmt](result), nl=False)
    sys.exit(result.exit_code)


@click.command()
@click.argument("profile", type=click.Path(path_type=Path))
@device_option("serial", help=RUN_DEVICE_HELP)
@click.option("--baseline", type=click.Path(path_type=Path), required=True, help="Baseline capture.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option("--json", "as_json", is_flag=True, help="Print the run and the diff as JSON.")
@click.option("--key", type=click.Path(path_type=Path),
              help="Public key the captures must be signed by (default: the lab's signing_key, if any).")
@click.option("--no-verify", is_flag=True, help="Compare even if a capture fails `lab verify`.")
@lab_option
def regress(profile: Path, serial: str | None, baseline: Path, junit: Path | None, as_json: bool,
            key: Path | None, no_verify: bool, lab_path: Path) -> None:
    """Run PROFILE on a handset, then diff against BASELINE; exit 1 on a regression.

    The baseline is verified (as `lab verify` does) before the run starts, so a wrong or
    tampered baseline costs no run time; the new capture is verified after the run. One
    that fails is not compared (exit 2) unless --no-verify is given.
    Exit 2 (input) or 3 (device) when the new run could not complete."""
    from harness.cli.evidence import checked_inputs
    from harness.config import load_lab, load_profile
    from harness.diff import diff_captures, diff_markdown, junit_xml
    from harness.diff.compare import capture_dirs
    from harness.diff.completeness import check_complete
    from harness.run import run_profile

    lab = load_lab(lab_path)
    checked = checked_inputs([baseline], [], no_verify=no_verify, key=key, lab=lab, junit=junit)
    check_complete(capture_dirs(baseline))  # a partial baseline costs no run time either
    prof = load_profile(profile)
    target = chosen(serial, next((d.serial for d in lab.devices), None))
    (result,) = run_profile(lab, lab_path, prof, profile, [target], lab.captures_dir, quiet=as_json)
    click.echo(f"{result.serial}: {result.status} -> {result.run_dir}", err=True)
    if result.status != "ok":
        raise DeviceError(f"the new run did not complete ({result.status}): {result.error or ''}".rstrip(": "))
    if not no_verify:
        checked.captures += checked_inputs([], [result.run_dir], no_verify=False, key=key, lab=lab,
                                           junit=junit).captures
    outcome = diff_captures([baseline], [result.run_dir], lab.policy, checked)
    if junit:
        junit.write_text(junit_xml(outcome), encoding="utf-8")
    if as_json:
        emit_json({"run": result.as_dict(), "diff": outcome.to_dict()})
    else:
        click.echo(diff_markdown(outcome), nl=False)
    sys.exit(outcome.exit_code)
