"""`lab query STORE "SQL"`: read-only SQL over a capture store's Parquet exports, for
auditors; `lab query STORE --schema` prints the tables and their columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import pyarrow as pa

TABLE_ROWS = 100  # pyarrow is imported where it is used: `lab` starts without it


def _printable(value: Any) -> str:
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Lists joined with commas, other nested values as JSON, formulas defused (as the
    report's CSV files do): what a spreadsheet opens safely."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from harness.report.flat import defuse

    columns = []
    for column in batch.columns:
        if pa.types.is_list(column.type) and pa.types.is_string(column.type.value_type):
            column = pc.binary_join(column, ",")
        elif pa.types.is_nested(column.type) or pa.types.is_dictionary(column.type):
            column = pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                              pa.string())
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pa.array([defuse(v) for v in column.to_pylist()], pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _emit_csv(reader: pa.RecordBatchReader, batches: Any) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def text(batch: pa.RecordBatch, header: bool) -> str:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(_csv_batch(batch), sink, write_options=pacsv.WriteOptions(include_header=header))
        return sink.getvalue().to_pybytes().decode("utf-8")

    click.echo(text(pa.RecordBatch.from_pylist([], schema=reader.schema), True), nl=False)  # also for no rows
    for batch in batches:
        click.echo(text(batch, False), nl=False)


def _emit_json(batches: Any) -> None:
    first = True
    click.echo("[", nl=False)
    for batch in batches:
        for row in batch.to_pylist():
            click.echo(("\n  " if first else ",\n  ") + json.dumps(row, default=str, sort_keys=False), nl=False)
            first = False
    click.echo("\n]" if not first else "]")


def _emit_table(reader: pa.RecordBatchReader, batches: Any, limit: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for name in reader.schema.names:
        table.add_column(Text(_printable(name)))
    rows = 0
    for batch in batches:
        for row in batch.to_pylist():
            if rows < limit:
                table.add_row(*(Text(_printable(v)) for v in row.values()))
            rows += 1
    Console(width=200).print(table)
    more = f"; the first {limit} shown (--limit N, or --csv / --json for all)" if rows > limit else ""
    click.echo(f"{rows} row(s){more}")


@click.command()
@click.argument("store", type=click.Path(path_type=Path))
@click.argument("sql", required=False)
@click.option("--schema", "show_schema", is_flag=True, help="Print the tables and their columns, then exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV (spreadsheet formulas defused).")
@click.option("--limit", type=click.IntRange(1), default=TABLE_ROWS, show_default=True,
              help="Rows shown in the table view.")
def query(store: Path, sql: str | None, show_schema: bool, as_json: bool, as_csv: bool, limit: int) -> None:
    """Run one read-only SQL query (SELECT, DESCRIBE, SHOW, SUMMARIZE) over the Parquet
    exports of the captures in STORE (a folder of capture folders, any depth).

    Tables: runs, flows, findings, reads, destinations, campaign_runs (see --schema). A
    capture without an export is left out and named on stderr: `lab campaign report
    STORE` (or `lab report CAPTURE`) writes it. Exit 2 on bad SQL or a write statement."""
    from harness.analysis.export_schema import schema_text
    from harness.analysis.store import scan_store
    from harness.analysis.store_db import batches, read_only_query, store_database

    if show_schema:
        click.echo(schema_text(), nl=False)
        return
    if not sql:
        raise click.UsageError("give a SQL query (or --schema)")
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    with store_database(scan_store(store), sandbox=True) as db:
        if db.missing:
            click.echo(f"lab: warning: {len(db.missing)} capture(s) without a Parquet export are not queried "
                       f"(first: {db.store.relative(db.missing[0])}); `lab campaign report` writes them", err=True)
        reader = read_only_query(db, sql)
        rows = batches(reader)
        if as_csv:
            _emit_csv(reader, rows)
        elif as_json:
            _emit_json(rows)
        else:
            _emit_table(reader, rows, limit)
