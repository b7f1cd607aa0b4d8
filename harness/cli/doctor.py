"""`lab doctor`: pre-flight checks of a handset, each pass / warn / fail with its fix, as
`flutter doctor` or `brew doctor` print them. Exit 0 all pass, 1 warnings, 3 a failure."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import emit_json, lab_option
from harness.cli.handsets import RUN_DEVICE_HELP, device_option, named

MARKS = {"pass": "[ok]  ", "warn": "[warn]", "fail": "[FAIL]", "not applicable": "[n/a] "}


@click.command()
@device_option(help=RUN_DEVICE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@lab_option
def doctor(device: str | None, as_json: bool, lab_path: Path) -> None:
    """Check a handset before a run: adb authorised, root, SELinux, frida-server (present,
    version, ABI, running), Frida's Java bridge in an app, the CA inside the apps' mount
    namespaces, a request from the handset reaching this computer through adb reverse,
    clock, screen unlocked, free space.

    The CA, capture path and Java bridge checks change the handset for a moment and undo
    it (journaled: `lab restore` undoes them after a kill). Exit 0 when every check
    passes, 1 with warnings, 3 when one fails."""
    from harness.config import load_lab
    from harness.run.doctor import diagnose

    lab = load_lab(lab_path)
    report = diagnose(named(device) or named(next((d.serial for d in lab.devices), None), {}), lab)
    if as_json:
        emit_json(report.as_dict())
        sys.exit(report.exit_code)
    device_line = report.device
    about = (f" ({device_line['model']}, Android {device_line['android']}, SDK {device_line['sdk']}, "
             f"{device_line['abi']})" if device_line else "")
    click.echo(f"lab doctor: {report.serial or 'no handset'}{about}")
    for check in report.checks:
        click.echo(f"{MARKS[check.status.value]} {check.name}: {check.summary}")
        if check.fix:
            click.echo(f"       fix: {check.fix}")
    failures, warnings = len(report.failed), len(report.warnings)
    click.echo("all checks passed" if not failures and not warnings else
               f"{failures} failure{'s' * (failures != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    sys.exit(report.exit_code)
