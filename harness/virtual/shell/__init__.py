"""An Android-like shell over the handset state (mksh/toybox output formats).

`Shell(host).run_script(text)` parses and runs a command line; commands live in the
modules imported below, registered in `interp.COMMANDS`.
"""

from harness.virtual.shell import (  # noqa: F401
    activity,
    builtins,
    cmd,
    content,
    files,
    location,
    mounts,
    network,
    perms,
    pm,
    radios,
    screen,
    storage,
    system,
    technician,
    text,
)
from harness.virtual.shell.command_io import IO
from harness.virtual.shell.interp import COMMANDS, Shell, ShellHost

__all__ = ["COMMANDS", "IO", "Shell", "ShellHost"]
