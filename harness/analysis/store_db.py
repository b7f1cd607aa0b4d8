"""DuckDB over a capture store: one view per export table (export_schema.py) over the
captures' Parquet files, read where they lie at query time, and read-only queries for
auditors (`lab query`). Only `runs`, one row per capture, is loaded (as a table): most
queries join it, and each view over a thousand files costs a few tenths of a second of
file opening per query.

    with store_database(scan_store(path)) as db:
        db.con.sql("SELECT model, count(*) FROM flows JOIN runs USING (run_id) GROUP BY ALL")

A read-only database (`sandbox=True`) takes one SELECT at a time (DESCRIBE, SHOW and
SUMMARIZE are SELECTs), and DuckDB may open no file but the export files: no COPY, no
ATTACH, no read_csv('/etc/passwd'), no extension download. Its configuration is locked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from harness.analysis.export import EXPORT_DIR, export_path, has_export
from harness.analysis.export_schema import CAMPAIGN_RUNS, TABLES, Table, sql_type
from harness.analysis.store import ScannedStore
from harness.capture.contents import kind_of
from harness.errors import QueryError

MEMORY_LIMIT = "2GB"  # DuckDB spills to its temporary folder beyond this
READ_ONLY = (duckdb.StatementType.SELECT,)
BATCH_ROWS = 65_536


@dataclass
class Database:
    con: duckdb.DuckDBPyConnection
    store: ScannedStore
    exported: list[Path] = field(default_factory=list)  # captures whose export the views read
    missing: list[Path] = field(default_factory=list)  # captures without an export (not in the views)
    files: dict[str, int] = field(default_factory=dict)  # table -> Parquet files its view reads


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _empty(table: Table) -> str:
    columns = ", ".join(f"CAST(NULL AS {sql_type(c.type)}) AS {_name(c.name)}" for c in table.columns)
    return f"SELECT {columns} WHERE false"


def _view(table: Table, files: list[str], root: Path) -> str:
    if not files:
        return _empty(table)
    source = f"read_parquet([{', '.join(_quoted(f) for f in files)}], union_by_name = true, filename = true)"
    if table.name != "runs":  # an export made before a column existed reads it as null
        return (f"SELECT {', '.join(_name(c.name) for c in table.columns)} "
                f"FROM ({_empty(table)} UNION ALL BY NAME SELECT * FROM {source})")
    prefix, suffix = len(str(root)) + 1, len(f"/{EXPORT_DIR}/{table.file}")
    columns = []
    for c in table.columns:
        capture = f"substr(r.filename, {prefix + 1}, length(r.filename) - {prefix + suffix})"
        if c.name == "capture":  # the file's folder, relative to the store
            columns.append(f"{capture} AS capture")
        elif c.name == "superseded":
            columns.append(f"coalesce({capture} IN (SELECT capture FROM superseded_captures), false) AS superseded")
        elif c.name == "campaign_id":
            columns.append("coalesce(r.campaign_id, i.campaign_id) AS campaign_id")
        else:
            columns.append(f"r.{_name(c.name)}")
    return (f"SELECT {', '.join(columns)} FROM {source} AS r "
            "LEFT JOIN (SELECT DISTINCT run_id, campaign_id FROM campaign_runs WHERE run_id IS NOT NULL) AS i "
            "ON i.run_id = r.run_id")


def _campaign_runs(store: ScannedStore) -> pa.Table:
    rows = [{"campaign_id": store.index.campaign_id, **run} for run in store.index.runs]
    schema = pa.schema([(c.name, c.type) for c in CAMPAIGN_RUNS.columns])
    return pa.Table.from_pylist(rows, schema=schema)


@contextmanager
def store_database(store: ScannedStore, *, sandbox: bool = False, memory_limit: str = MEMORY_LIMIT,
                   threads: int | None = None) -> Iterator[Database]:
    """An in-memory DuckDB database whose views read the store's exports."""
    with tempfile.TemporaryDirectory(prefix="lab-duckdb-") as spill:
        config = {"memory_limit": memory_limit, "temp_directory": spill, "preserve_insertion_order": False,
                  "autoinstall_known_extensions": False, "TimeZone": "UTC"}
        if threads:
            config["threads"] = threads
        con = duckdb.connect(":memory:", config=config)
        try:
            con.execute("SET parquet_metadata_cache = true")  # each file's footer read once, not once per query
            db = Database(con, store)
            for capture in store.captures:
                (db.exported if has_export(capture) else db.missing).append(capture)
            con.register("campaign_index", _campaign_runs(store))
            con.execute("CREATE TABLE campaign_runs AS SELECT * FROM campaign_index")
            con.unregister("campaign_index")
            con.register("superseded_captures", pa.table({"capture": pa.array(sorted(store.index.superseded),
                                                                                pa.string())}))
            files: list[str] = []
            for table in TABLES.values():
                paths = [str(export_path(c) / table.file) for c in db.exported]
                if table.optional:
                    paths = [p for p in paths if kind_of(Path(p)) == "file"]
                files += paths
                db.files[table.name] = len(paths)
                kind = "TABLE" if table.name == "runs" else "VIEW"  # one row per capture, joined by most queries
                con.execute(f"CREATE {kind} {table.name} AS {_view(table, paths, store.root)}")
            con.unregister("superseded_captures")  # read once, into the runs table
            if sandbox:
                con.execute(f"SET allowed_paths = [{', '.join(_quoted(f) for f in files)}]")
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
            yield db
        finally:
            con.close()


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def read_only_query(db: Database, sql: str) -> pa.RecordBatchReader:
    """Run one SELECT; its rows come as Arrow batches. Anything else is a QueryError."""
    try:
        statements = db.con.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryError(f"not valid SQL: {first_line(e)}") from e
    if len(statements) != 1:
        raise QueryError(f"one statement at a time, please (got {len(statements)})")
    kind = statements[0].type
    if kind not in READ_ONLY:
        raise QueryError(f"the store is read-only: only SELECT queries (with DESCRIBE, SHOW, SUMMARIZE) "
                         f"are allowed, not {kind.name}")
    try:
        return db.con.sql(sql).to_arrow_reader(BATCH_ROWS)
    except duckdb.Error as e:
        raise QueryError(first_line(e)) from e


def batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The reader's batches; an error while the query runs is a QueryError."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (duckdb.Error, pa.ArrowException) as e:
            raise QueryError(first_line(e)) from e
        yield batch

