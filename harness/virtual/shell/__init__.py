"""An Android-like shell over the handset state (mksh/toybox output formats).

`Shell(host).run_script(text)` parses and runs a command line; commands live in the
modules imported below, registered in `registry.COMMANDS`.
"""

from harness.virtual.shell import activity, builtins, content, files, pm, system  # noqa: F401
from harness.virtual.shell.interp import Shell
from harness.virtual.shell.registry import COMMANDS, IO, ShellHost

__all__ = ["COMMANDS", "IO", "Shell", "ShellHost"]
