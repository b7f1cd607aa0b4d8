"""`lab query STORE "SQL"`: read-only SQL over a store's Parquet exports (issue 23)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from support.store_builder import ACME, build_store

from harness.analysis.export import export_missing
from harness.analysis.export_schema import STORE_TABLES, TABLES, schema_text
from harness.cli.main import main


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    built = build_store(tmp_path_factory.mktemp("query") / "store")
    export_missing(list(built.captures.values()))
    return built


def lab(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_query_prints_a_table_json_or_csv(store):
    sql = ("SELECT r.model, count(*) AS flows FROM flows f JOIN runs r USING (run_id) "
           "WHERE list_contains(f.flags, 'foreign') GROUP BY ALL ORDER BY r.model")
    result = lab("query", str(store.root), sql, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["model"] for r in rows] == ["V1", "X2"] and all(r["flows"] > 0 for r in rows)
    table = lab("query", str(store.root), sql)
    assert table.exit_code == 0 and "V1" in table.output and "2 row(s)" in table.output
    text = lab("query", str(store.root), "SELECT run_id, handset, flags FROM flows JOIN runs USING (run_id) "
               "WHERE model = 'X2' LIMIT 1", "--csv")
    assert text.exit_code == 0, text.output
    (row,) = list(csv.DictReader(io.StringIO(text.output)))
    assert row["handset"] == "AC****Z9" and ACME.serial not in text.output
    assert row["flags"].split(",")[0] == "foreign"
    many = lab("query", str(store.root), "SELECT * FROM flows", "--limit", "3")
    assert many.exit_code == 0 and "the first 3 shown" in many.output


def test_schema_lists_every_table_and_column(store):
    result = lab("query", str(store.root), "--schema")
    assert result.exit_code == 0
    assert result.output == schema_text()
    for table in (*TABLES.values(), *STORE_TABLES.values()):
        assert f"{table.name}: " in result.output
    described = lab("query", str(store.root), "DESCRIBE findings", "--json")
    assert [r["column_name"] for r in json.loads(described.output)] == [c.name for c in TABLES["findings"].columns]


@pytest.mark.parametrize("sql", [
    "DROP VIEW flows",
    "CREATE TABLE t AS SELECT 1",
    "INSERT INTO campaign_runs (run_id) VALUES ('x')",
    "COPY (SELECT * FROM runs) TO 'out.csv'",
    "ATTACH 'other.db'",
    "SET enable_external_access = true",
    "SELECT 1; DROP VIEW runs",
])
def test_anything_but_one_select_is_refused(store, sql, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = lab("query", str(store.root), sql)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("lab: ")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert lab("query", str(store.root), "SELECT count(*) AS n FROM runs", "--json").output.count('"n": 6')


def test_no_file_but_the_exports_can_be_read(store, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    raw = next(iter(store.captures.values())) / "flows.jsonl"  # raw, unmasked flows
    for sql in (f"SELECT * FROM read_csv('{secret}')", f"SELECT * FROM read_json('{raw}')"):
        result = lab("query", str(store.root), sql)
        assert result.exit_code == 2 and "Permission Error" in result.output, result.output


@pytest.mark.parametrize("sql, says", [
    ("SELEC * FROM runs", "not valid SQL"),
    ("SELECT * FROM no_such_table", "no_such_table"),
    ("SELECT CAST(model AS INTEGER) FROM runs", "Conversion Error"),
])
def test_bad_sql_is_exit_2_on_one_line(store, sql, says):
    result = lab("query", str(store.root), sql)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("lab: ") and says in result.output


def test_usage_errors(store, tmp_path):
    assert lab("query", str(store.root)).exit_code == 2
    assert lab("query", str(store.root), "SELECT 1", "--json", "--csv").exit_code == 2
    missing = lab("query", str(tmp_path / "nowhere"), "SELECT 1")
    assert missing.exit_code == 2 and "not a capture store" in missing.output


def test_captures_without_an_export_are_named_not_queried(tmp_path):
    built = build_store(tmp_path / "store")
    first = sorted(built.captures.values())[0]
    export_missing([first])
    result = lab("query", str(built.root), "SELECT count(*) AS n FROM runs", "--json")
    assert result.exit_code == 0
    assert "5 capture(s) without a Parquet export are not queried" in result.stderr
    assert json.loads(result.stdout) == [{"n": 1}]
