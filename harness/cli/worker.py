"""`lab worker`: this host's handsets offered to a campaign's Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.common import lab_option
from harness.cli.handsets import METAVAR

if TYPE_CHECKING:
    from harness.config import LabConfig
    from harness.devices.choice import Attached


@click.command()
@click.option("--scheduler", required=True, metavar="tcp://HOST:8786", help="The Dask scheduler to join.")
@click.option("--handset", "handsets", multiple=True, metavar=METAVAR,
              help="A handset to offer (repeatable; default: lab.yaml's devices and the handsets attached).")
@click.option("--name", help="This host's name in campaign indexes and run.json (default: the host name).")
@lab_option
def worker(scheduler: str, handsets: tuple[str, ...], name: str | None, lab_path: Path) -> None:
    """Offer this host's handsets to a campaign's Dask cluster, until Ctrl-C or SIGTERM.

    First restores every handset a killed run left prepared (as `lab restore` does, from the
    journals in lab.yaml's state folder). Each handset is a resource `handset:SERIAL` of 1:
    a campaign's run of it comes here only, one at a time, as `lab run` with this lab.yaml.
    On Ctrl-C or SIGTERM the running runs wind down and restore their handsets first."""
    import asyncio
    import logging

    from harness.cli.handsets import named
    from harness.config import load_lab
    from harness.devices import adb_client, attached, restore_pending
    from harness.errors import DeviceError
    from harness.run.placement import LabHost, host_name, serve_worker

    lab = load_lab(lab_path)
    label = host_name(name)
    offered = [str(named(h)) for h in handsets] or default_handsets(lab, attached(adb_client()))
    if not offered:
        raise DeviceError("no handset to offer: name them with --handset, in lab.yaml's devices, or attach one")
    click.echo(f"lab worker {label}: restoring what killed runs left on the handsets")
    try:
        for result in restore_pending(adb_client(), lab.state_dir):
            if result.journal_paths:
                click.echo(f"restored {result.serial}: {', '.join(result.restored) or 'nothing to undo'}")
            if result.removed:
                click.echo(f"stopped virtual handset {result.serial} of a run that is gone")
    except DeviceError as e:  # a handset not attached now is restored when it is back; go on
        click.echo(f"lab worker {label}: not restored: {e}", err=True)
    logging.getLogger("distributed").setLevel(logging.WARNING)

    def ready(address: str) -> None:
        click.echo(f"lab worker {label}: {address} offers {', '.join(offered)} to {scheduler}")

    asyncio.run(serve_worker(scheduler, LabHost(label, lab_path, offered), ready))
    click.echo(f"lab worker {label}: stopped")


def default_handsets(lab: LabConfig, found: list[Attached]) -> list[str]:
    """lab.yaml's devices, then the other handsets attached and online."""
    serials = [d.serial for d in lab.devices]
    return serials + [f.serial for f in found if f.state == "device" and f.serial not in serials]
