"""`lab`: the command line. Thin: parses arguments, calls the library, and turns a
HarnessError into a one-line message and an exit code (0 ok, 1 findings/regression,
2 usage or input error, 3 device or environment error). `--debug` shows tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness import __version__
from harness.cli.campaign import campaign
from harness.cli.common import (
    EXIT_DEVICE,
    EXIT_FINDINGS,
    EXIT_OK,
    emit_json,
    lab_option,
    load_lab_if_present,
)
from harness.cli.compare import diff, regress
from harness.cli.config import config, profiles
from harness.cli.doctor import doctor
from harness.cli.handsets import RUN_DEVICE_HELP, chosen, device_option, named
from harness.cli.query import query
from harness.cli.virtual import virtual
from harness.cli.worker import worker
from harness.errors import HarnessError, NotBuiltError


class HarnessGroup(click.Group):
    """Turns library errors into messages at the one boundary where that belongs."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for line in str(e).splitlines() or [type(e).__name__]:
                click.echo(f"lab: {line}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("lab: interrupted", err=True)
            ctx.exit(130)


def not_built(what: str) -> None:
    raise NotBuiltError(f"`lab {what}` is not built yet")


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lab")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Audit where Android handsets send data, and which code read it first."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# --- handsets -------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@lab_option
def devices(as_json: bool, lab_path: Path) -> None:
    """List attached handsets with model, firmware and security patch."""
    from harness.devices import list_devices

    infos, problems = list_devices()
    for problem in problems:
        click.echo(f"not usable: {problem}", err=True)
    if as_json:
        emit_json([info.as_dict() for info in infos])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("serial", "manufacturer", "model", "android", "sdk", "security patch",
                  "fingerprint", "root", "frida-server")
    for i in infos:
        table.add_row(i.serial, i.manufacturer, i.model, i.android_release, str(i.sdk),
                      i.security_patch, i.fingerprint, i.root_method, i.frida_server_version or "-")
    if infos:
        Console(width=200).print(table)
    elif not problems:
        click.echo("no handset is attached")


@main.command()
@device_option("serial")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for journal.json and canaries.json.")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path),
              help="Profile whose app targets get installed and their permissions set.")
@click.option("--proxy-port", type=click.IntRange(1, 65535),
              help="Point the handset's http_proxy at 127.0.0.1:PORT (with adb reverse).")
@click.option("--ca", "ca_path", type=click.Path(path_type=Path),
              help="CA certificate (PEM) to install (default: the lab proxy's mitmproxy-ca-cert.pem, in "
                   "proxy.confdir, else STATE_DIR/mitmproxy/LAB_NAME).")
@click.option("--ca-store", type=click.Choice(["auto", "user"]), default="auto", show_default=True,
              help="auto: system store on rooted handsets (tmpfs / conscrypt APEX by SDK).")
@click.option("--no-canaries", is_flag=True, help="Do not plant canaries.")
@click.option("--no-frida", is_flag=True, help="Do not push or start frida-server.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lab_option
def prepare(serial: str | None, out: Path | None, profile_path: Path | None, proxy_port: int | None,
            ca_path: Path | None, ca_store: str, no_canaries: bool, no_frida: bool, as_json: bool,
            lab_path: Path) -> None:
    """Prepare a handset (CA, proxy, frida-server, canaries), journaling every change."""
    from harness.cli.prepare_skips import ca_to_install, skipped
    from harness.config import load_lab, load_profile
    from harness.devices import device_entry, open_device
    from harness.devices import prepare as prepare_handset
    from harness.errors import ConfigError

    lab = load_lab(lab_path)
    profile = load_profile(profile_path) if profile_path else None
    ca_path = ca_to_install(lab, ca_path)
    try:
        ca_pem = ca_path.read_bytes() if ca_path else None
    except OSError as e:
        raise ConfigError(f"cannot read the CA {ca_path}: {e}") from e
    target = chosen(serial)
    handset = open_device(target, lab)
    prepared = prepare_handset(
        handset, lab, profile, proxy_port, ca_pem, out, entry=device_entry(lab, handset.serial, target),
        ca_store=ca_store, canaries=not no_canaries, frida=not no_frida,
    )
    result = {
        "serial": handset.serial,
        "journal": [str(p) for p in prepared.journal.paths],
        "canaries": str(prepared.canaries_path),
        "changes": [e.kind for e in prepared.journal.entries],
        "notes": prepared.journal.notes,
        "ca_method": prepared.ca_method,
        "planted": [c["type"] for c in prepared.canaries.planted],
        "not_planted": prepared.canaries.not_planted,
        "ca": str(ca_path) if ca_path else None,
        "skipped": skipped(lab, ca_path, proxy_port, frida=not no_frida, canaries=not no_canaries),
    }
    if handset.virtual is not None:
        result["virtual_pid"] = getattr(handset.virtual, "pid", None)
    if as_json:
        emit_json(result)
        return
    click.echo(f"prepared {handset.serial}: {', '.join(result['changes']) or 'no changes'}")
    click.echo(f"journal: {result['journal'][0]}")
    click.echo(f"canaries: {result['canaries']}")
    for note in prepared.journal.notes:
        click.echo(f"note: {note}")
    for step in result["skipped"]:
        click.echo(f"not done: {step['step']}: {step['reason']}")
    for not_planted in prepared.canaries.not_planted:
        click.echo(f"not planted: {not_planted['type']}: {not_planted['reason']}")


@main.command()
@click.argument("serial", required=False, deprecated="Use --device SERIAL.")
@device_option(help="Handset whose journal to undo: SERIAL, or virtual:NAME for a still running virtual "
                    "handset started as NAME (default: ANDROID_SERIAL, else every pending journal).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lab_option
def restore(serial: str | None, device: str | None, as_json: bool, lab_path: Path) -> None:
    """Undo what prepare changed on a handset, from its journal (also after a kill -9).

    With no --device (and no ANDROID_SERIAL), every journal in the lab state folder that
    is not restored yet.
    """
    from harness.config import load_lab
    from harness.devices import adb_client, restore_pending

    if serial and device and serial != device:
        raise click.UsageError(f"two handsets named ({serial} and --device {device}); give --device alone")
    wanted = named(device or serial)
    lab = load_lab(lab_path)
    results = restore_pending(adb_client(), lab.state_dir, wanted)
    if as_json:
        emit_json([{"serial": r.serial, "restored": r.restored, "failed": r.failed,
                    "journals": [str(p) for p in r.journal_paths], "stopped": r.stopped,
                    "removed": str(r.removed) if r.removed else None} for r in results])
        return
    if not results:
        click.echo(f"nothing to restore{' for ' + wanted if wanted else ''}")
    for r in results:
        if r.journal_paths or not r.removed:
            click.echo(f"restored {r.serial}: {', '.join(r.restored) or 'nothing to undo'}")
        if r.removed:
            click.echo(f"stopped virtual handset {r.serial} of a lab process that is gone "
                       f"(PIDs {' '.join(map(str, r.stopped)) or 'none left'}); removed {r.removed}")


# --- runs -----------------------------------------------------------------------------


@main.command()
@click.argument("profile", type=click.Path(path_type=Path))
@device_option("serials", help=RUN_DEVICE_HELP + " Repeatable.", multiple=True)
@click.option("--out", type=click.Path(path_type=Path), help="Captures folder (default from lab.yaml).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--report", "with_report", is_flag=True, help="Write the HTML report when done.")
@click.option("--yes", "assume_yes", is_flag=True,
              help="Never wait at a manual step (prompt; sim, account on a real phone): record it "
                   "as not confirmed. Without a terminal on stdin this is what happens anyway.")
@click.option("--skip-doctor", is_flag=True,
              help="Do not run lab doctor's quick checks first (a failed one stops the run, exit 3).")
@lab_option
def run(profile: Path, serials: tuple[str, ...], out: Path | None, quiet: bool, as_json: bool,
        with_report: bool, assume_yes: bool, skip_doctor: bool, lab_path: Path) -> None:
    """Run PROFILE on one or more handsets, each into its own capture folder.

    Handsets come from --device (repeatable), else ANDROID_SERIAL, else the first of
    lab.yaml's devices, else the only attached one. Exit 0 when every run completed, 3
    when one failed or is partial (a step failed), 130 when one was interrupted (Ctrl-C,
    SIGTERM, SIGHUP); the handsets are restored in every case. A manual step asks on this
    terminal and waits for Enter (one handset only; several never wait). Each handset
    first gets lab doctor's quick checks (screen unlocked, frida-server, root, ...): a
    failure stops its run before anything on it changes, with the fix (--skip-doctor:
    run anyway)."""
    from harness.config import load_lab, load_profile
    from harness.run import run_profile
    from harness.run.technician import technician_for

    lab = load_lab(lab_path)
    prof = load_profile(profile)
    # every handset is checked before the first capture folder is made: a wrong one is exit 3
    targets = [chosen(s) for s in serials] or [chosen(None, next((d.serial for d in lab.devices), None))]
    results = run_profile(lab, lab_path, prof, profile, targets, out or lab.captures_dir,
                          quiet=quiet or as_json, technician=technician_for(assume_yes), doctor=not skip_doctor)
    reports: dict[str, list[str]] = {}
    if with_report:
        from harness.capture import RUN_JSON
        from harness.report import write_reports

        for r in results:
            if (r.run_dir / RUN_JSON).exists():
                reports[r.serial] = [str(p) for p in write_reports([r.run_dir], "html", lab=lab)]
    if as_json:
        emit_json([{**r.as_dict(), "reports": reports.get(r.serial, [])} for r in results])
    else:
        for r in results:
            click.echo(f"{r.serial}: {r.status} -> {r.run_dir}" + (f" ({r.error})" if r.error else ""))
            if r.capture:
                click.echo(f"  {r.capture}")
            for path in reports.get(r.serial, []):
                click.echo(f"report: {path}")
    sys.exit(_run_exit_code([r.status for r in results]))


def _run_exit_code(statuses: list[str]) -> int:
    """0 when every run is ok; 3 when one failed or is partial (steps refused, handset
    lost, restore failed: handset or environment errors); else 130 when one was interrupted."""
    from harness.run import RunStatus

    if any(s in (RunStatus.FAILED, RunStatus.PARTIAL) for s in statuses):
        return EXIT_DEVICE
    return 130 if RunStatus.INTERRUPTED in statuses else EXIT_OK


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--key", type=click.Path(path_type=Path),
              help="Public key run.json must be signed by (default: the lab's signing_key, if it has one).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lab_option
def verify(run_dir: Path, key: Path | None, as_json: bool, lab_path: Path) -> None:
    """Re-hash a capture's artifacts; name any that changed or went missing (exit 1).

    When the lab signs its runs (lab.yaml `signing_key`), or --key is given, run.json
    must carry a valid signature by that key: a missing or foreign one fails (exit 1)."""
    from harness.capture import verify as verify_capture
    from harness.cli.evidence import trusted_key, verify_lines

    result = verify_capture(run_dir, trusted_key(key, load_lab_if_present(lab_path) if key is None else None))
    if as_json:
        emit_json(result.as_dict())
        sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)
    for line in verify_lines(result):
        click.echo(line)
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)


@main.command()
@click.argument("key_path", type=click.Path(path_type=Path))
def keygen(key_path: Path) -> None:
    """Make an Ed25519 lab signing key (0600) and its public key (.pub.pem) next to it.

    Name the private key as `signing_key` in lab.yaml: every run's manifest is then
    signed, and `lab verify RUN --key PUBLIC` proves which lab produced the evidence."""
    from harness.capture import generate_signing_key
    from harness.errors import ConfigError

    if key_path.exists():
        raise ConfigError(f"{key_path}: already exists; not overwriting a key")
    click.echo(str(generate_signing_key(key_path)))


@main.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Capture folder to create.")
@click.option("--canaries", type=click.Path(path_type=Path), help="canaries.json to scan the flows for.")
@click.option("--device", help="Serial to record as the flows' handset.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@lab_option
def import_(source: Path, out: Path, canaries: Path | None, device: str | None, as_json: bool,
            lab_path: Path) -> None:
    """Build a capture folder from a mitmproxy flow file or a HAR, classified and scanned
    like a live run (lab.yaml's policy and geo, if the file exists)."""
    from harness.config import load_lab
    from harness.proxy.importer import import_capture

    lab = load_lab(lab_path) if lab_path.exists() else None
    if lab is None:
        click.echo(f"lab: {lab_path} not found; flows classified without a policy", err=True)
    result = import_capture(source, out, lab, canaries=canaries, device=device)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"{out}: {result.flows} flows ({result.source_format}), {result.findings} findings")
    for line in result.skipped:
        click.echo(f"  skipped: {line}", err=True)


# --- reports and regressions ------------------------------------------------------------


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "formats", default="html", show_default=True,
              help="Comma-separated: html,csv,xlsx,json,md,parquet.")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default RUN/report).")
@click.option("--reveal", is_flag=True, help="Show sensitive values unmasked.")
@click.option("--json", "as_json", is_flag=True, help="Print the files written as JSON.")
@lab_option
def report(runs: tuple[Path, ...], formats: str, out: Path | None, reveal: bool, as_json: bool,
           lab_path: Path) -> None:
    """Write the destination-server report of one or more captures."""
    from harness.report import write_reports

    lab = load_lab_if_present(lab_path)
    paths = write_reports(list(runs), formats, out=out, reveal=reveal, lab=lab)
    if as_json:
        emit_json({"runs": [str(r) for r in runs], "files": [str(p) for p in paths]})
        return
    for path in paths:
        click.echo(str(path))


# --- groups kept in their own modules ---------------------------------------------------

main.add_command(config)
main.add_command(profiles)
main.add_command(virtual)
main.add_command(doctor)
main.add_command(campaign)
main.add_command(worker)
main.add_command(query)
main.add_command(diff)
main.add_command(regress)
