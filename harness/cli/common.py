"""What every `lab` command module shares: exit codes, JSON output, the --lab option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


lab_option = click.option(
    "--lab", "lab_path", type=click.Path(path_type=Path), default=Path("lab.yaml"),
    show_default=True, help="The lab configuration file.",
)


def load_lab_if_present(lab_path: Path) -> Any:
    """The lab configuration, or None when the default lab.yaml is absent (commands that
    read captures work without one; a --lab that names a missing file is still an error)."""
    from harness.config import load_lab

    if lab_path == Path("lab.yaml") and not lab_path.exists():
        return None
    return load_lab(lab_path)
