"""`lab virtual ...`: the virtual handset, the one part of the CLI that starts it."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.common import emit_json


@click.group()
def virtual() -> None:
    """The virtual handset: a phone on the real ADB protocol, for tests and the demo."""


@virtual.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def virtual_list(as_json: bool) -> None:
    """List the built-in virtual handsets."""
    from harness.virtual.catalog import list_handsets

    rows = list_handsets()
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<12} {row['model']:<20} Android {row['release']:<3} SDK {row['sdk']}  "
                   f"{'rooted' if row['rooted'] else 'not rooted':<10}  {row['description']}")


@virtual.command("serve")
@click.option("--handset", default="reference", show_default=True, help="Built-in handset name or spec path.")
@click.option("--port", type=int, default=0, help="TCP port (0: a free one).")
@click.option("--ready-file", type=click.Path(path_type=Path),
              help="Write serial, port, pid, device_loopback and zone_path here (JSON) once ready.")
def virtual_serve(handset: str, port: int, ready_file: Path | None) -> None:
    """Serve one virtual handset in the foreground and print its serial."""
    from harness.errors import ConfigError, DeviceError
    from harness.virtual.serve import run as serve_handset
    from harness.virtual.spec import SpecError

    try:
        serve_handset(handset, port, ready_file, announce=lambda serial: click.echo(serial))
    except SpecError as e:
        raise ConfigError(str(e)) from e
    except OSError as e:
        raise DeviceError(f"virtual handset: {e}") from e
