"""`lab`, the command line: thin. Each command parses its arguments, calls the library,
and turns a HarnessError into a one-line message and an exit code (cli/common.py)."""

from harness.cli.main import main

__all__ = ["main"]
