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
@click.option("--device", metavar="virtual:NAME",
              help="The handset to serve: virtual:NAME (a built-in handset or a spec path) [default: virtual:reference].")
@click.option("--handset", metavar="NAME", deprecated="Use --device virtual:NAME.",
              help="Built-in handset name or spec path.")
@click.option("--port", type=int, default=0, help="TCP port (0: a free one).")
@click.option("--ready-file", type=click.Path(path_type=Path),
              help="Write serial, port, pid, device_loopback and zone_path here (JSON) once ready.")
def virtual_serve(device: str | None, handset: str | None, port: int, ready_file: Path | None) -> None:
    """Serve one virtual handset in the foreground and print its serial."""
    from harness.errors import ConfigError, DeviceError
    from harness.virtual.serve import run as serve_handset
    from harness.virtual.spec import SpecError

    name = _served_name(device, handset)
    try:
        serve_handset(name, port, ready_file, announce=lambda serial: click.echo(serial))
    except SpecError as e:
        raise ConfigError(str(e)) from e
    except OSError as e:
        raise DeviceError(f"virtual handset: {e}") from e


def _served_name(device: str | None, handset: str | None) -> str:
    """NAME out of --device virtual:NAME (or the old --handset NAME, also virtual:NAME)."""
    from harness.devices.virtual_launch import PREFIX, is_virtual

    if device and handset:
        raise click.UsageError("give --device virtual:NAME alone (--handset is its old spelling)")
    if handset:
        return handset[len(PREFIX):] if is_virtual(handset) else handset
    if device is None:
        return "reference"
    if not is_virtual(device) or len(device) == len(PREFIX):
        raise click.BadParameter(f"{device!r}: serve starts a virtual handset; name it virtual:NAME "
                                 "(`lab virtual list`)", param_hint="--device")
    return device[len(PREFIX):]


def check_virtual(name: str) -> None:
    """DeviceNotFoundError unless NAME is a built-in virtual handset or a valid spec file:
    checked before a command that will start it writes anything."""
    from harness.devices.virtual_launch import PREFIX
    from harness.errors import DeviceNotFoundError
    from harness.virtual.spec import SpecError, load_spec

    if not name:
        raise DeviceNotFoundError(f"{PREFIX!r} names no virtual handset (`lab virtual list`)")
    try:
        load_spec(name)
    except SpecError as e:
        raise DeviceNotFoundError(f"{PREFIX}{name}: {e}") from e
