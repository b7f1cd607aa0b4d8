"""How every `lab` command that acts on a handset names it: `--device SERIAL` or
`--device virtual:NAME`, chosen as adbutils does (the option, then ANDROID_SERIAL, then
the only handset attached), and checked before the command writes anything."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from adbutils import AdbClient

METAVAR = "SERIAL|virtual:NAME"
DEVICE_HELP = "Handset serial or virtual:NAME (default: ANDROID_SERIAL, else the only one attached)."
RUN_DEVICE_HELP = ("Handset serial or virtual:NAME (default: ANDROID_SERIAL, else lab.yaml's first device, "
                   "else the only one attached).")


def device_option(dest: str = "device", help: str = DEVICE_HELP,
                  multiple: bool = False) -> Callable[[Any], Any]:
    """The one `--device` option, under the parameter name a command already uses."""
    return click.option("--device", dest, multiple=multiple, metavar=METAVAR, help=help)


def requested(device: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """What the user asked for, before looking at what is attached: --device, else ANDROID_SERIAL."""
    env = os.environ if env is None else env
    return device or env.get("ANDROID_SERIAL") or None


def named(device: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """requested(), with the NAME of a virtual:NAME checked (DeviceError, exit 3, if unknown)."""
    from harness.cli.virtual import check_virtual
    from harness.devices.virtual_launch import PREFIX, is_virtual

    wanted = requested(device, env)
    if wanted and is_virtual(wanted):
        check_virtual(wanted[len(PREFIX):])
    return wanted


def chosen(device: str | None, fallback: str | None = None, client: AdbClient | None = None,
           env: Mapping[str, str] | None = None) -> str:
    """The handset a command acts on, checked before it writes anything: `device`, else
    ANDROID_SERIAL, else `fallback` (lab.yaml's first device, for runs), else the only one
    attached. A virtual:NAME must name a virtual handset (it is started later); a serial
    must be attached and online. DeviceError (exit 3) saying why not."""
    from harness.devices import adb_client, choose_serial
    from harness.devices.virtual_launch import is_virtual
    from harness.errors import DeviceNotFoundError

    env = os.environ if env is None else env
    wanted = named(device, env) or named(fallback, {})
    if wanted and is_virtual(wanted):
        return wanted
    client = client or adb_client(env)
    if requested(device, env) or not fallback:  # choose_serial names ANDROID_SERIAL itself
        return choose_serial(device, client, env)
    try:
        return choose_serial(fallback, client, env)
    except DeviceNotFoundError as e:
        raise DeviceNotFoundError(f"{e} (lab.yaml's first device; name another with --device)") from e
