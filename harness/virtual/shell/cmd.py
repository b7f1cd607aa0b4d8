"""`cmd SERVICE ...`: the binder services' shell entry (package, activity, settings,
location, phone, wifi, bluetooth_manager, connectivity), handed to the command that
serves each; a service the handset's SDK has no shell command for is not found."""

from __future__ import annotations

from harness.virtual.shell.activity import am
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command
from harness.virtual.shell.location import cmd_location
from harness.virtual.shell.pm import package_command
from harness.virtual.shell.radios import cmd_bluetooth_manager, cmd_connectivity, cmd_wifi
from harness.virtual.shell.system import settings


@command("cmd")
def cmd(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args:
        raise Usage("cmd: No service specified; use -l to list all running services. Use -w to start and wait for a service.", 20)
    service, rest = args[0], args[1:]
    if service == "package":
        return package_command(sh, rest, io)
    if service == "location":
        return cmd_location(sh, rest, io)
    if service == "settings":
        return settings(sh, ["settings", *rest], io)
    if service == "activity":
        return am(sh, ["am", *rest], io)
    radio = {"wifi": cmd_wifi, "bluetooth_manager": cmd_bluetooth_manager,
             "connectivity": cmd_connectivity}.get(service)
    if radio is not None:
        code = radio(sh, rest, io)
        if code is not None:
            return code
    if service == "phone" and rest[:1] == ["get-imei"]:
        io.write(f"Device IMEI:{sh.state.identifiers['imei']}\n")
        return 0
    io.error(f"cmd: Can't find service: {service}\n")
    return 20
