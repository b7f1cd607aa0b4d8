"""`lab config ...` and `lab profiles`: check and describe lab.yaml and profiles."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.common import EXIT_USAGE, emit_json


@click.group()
def config() -> None:
    """Check and describe lab.yaml and profiles."""


@config.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def config_check(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate lab, profile and campaign FILES (default lab.yaml); exit 2 on any error.

    A file with `steps` is checked as a profile, one with `jurisdiction` as a lab file, one
    with `handsets` as a campaign (with the profiles it names); a folder stands for its
    YAML files. Each error names file:line:column and the key path.
    """
    from harness.config.check import check_files

    results = check_files(files or (Path("lab.yaml"),))
    bad = [r for r in results if not r.ok]
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        for r in results:
            if r.ok:
                click.echo(f"{r.path}: ok ({r.kind})")
            for line in r.errors:
                click.echo(line)
        if bad:
            click.echo(f"{len(bad)} of {len(results)} file(s) with errors", err=True)
    if bad:
        raise SystemExit(EXIT_USAGE)


@config.command("schema")
@click.option("--write", "out_dir", type=click.Path(path_type=Path),
              help="Write lab.schema.json, profile.schema.json and campaign.schema.json into this folder.")
def config_schema(out_dir: Path | None) -> None:
    """Print (or write) the JSON Schemas of lab.yaml, profiles and campaign files for editors.

    Editors with yaml-language-server use them through a first line like
    `# yaml-language-server: $schema=schemas/profile.schema.json`.
    """
    from harness.config.schema import schemas, write_schemas

    if out_dir:
        for path in write_schemas(out_dir):
            click.echo(str(path))
    else:
        emit_json(schemas())


@click.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("profiles"),
              show_default=True, help="Folder of profile files.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def profiles(directory: Path, as_json: bool) -> None:
    """List the test profiles with their descriptions; exit 2 if one is invalid."""
    from harness.config.check import list_profiles

    rows = list_profiles(directory)
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            if row["ok"]:
                minutes = f"~{row['estimated_seconds'] / 60:.1f} min"
                click.echo(f"{row['name']:<22} {row['steps']:>3} steps  {minutes:<10} {row['path']}")
                if row.get("description"):
                    click.echo(f"    {row['description']}")
            else:
                click.echo(f"{row['name']:<22} INVALID  {row['path']}")
                click.echo(f"    {row['error']}")
        if not rows:
            click.echo(f"no profiles in {directory}", err=True)
    if any(not row["ok"] for row in rows):
        raise SystemExit(EXIT_USAGE)
