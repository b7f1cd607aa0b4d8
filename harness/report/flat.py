"""CSV, JSON, Markdown and Parquet outputs of the report tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from harness.report.tables import FULL_TABLES, SUMMARY_TABLES, ReportTables, records

# A cell starting with one of these is a formula to a spreadsheet: CSV/XLSX get a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MD_ROWS = 200
MD_CELL_CHARS = 300


def defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _defused(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_string_dtype(series) or series.dtype == object:
            text = series.astype("string[pyarrow]")
            risky = text.str.startswith(FORMULA_START).fillna(False).astype(bool)
            if risky.any():
                obj = series.astype(object)
                out[col] = obj.where(~risky, "'" + text[risky].astype(str))
    return out


def write_csv(tables: ReportTables, out: Path) -> list[Path]:
    paths = []
    for name in SUMMARY_TABLES + FULL_TABLES:
        path = out / f"{name}.csv"
        df = _defused(tables.tables[name])
        try:  # pyarrow's writer is several times faster than pandas' on a million rows
            pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), path)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            df.to_csv(path, index=False)
        paths.append(path)
    return paths


def write_parquet(tables: ReportTables, out: Path) -> list[Path]:
    paths = []
    for name in SUMMARY_TABLES + FULL_TABLES:
        path = out / f"{name}.parquet"
        df = tables.tables[name]
        for col in df.columns:
            if df[col].dtype == object:  # mixed Python objects: Parquet wants one type
                df = df.assign(**{col: df[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))})
        df.to_parquet(path, index=False)
        paths.append(path)
    return paths


def report_json(tables: ReportTables) -> dict:
    return {
        "format": "lab-harness-report",
        "format_version": 1,
        "revealed": tables.revealed,
        "summary": tables.summary,
        **{name: records(tables.tables[name]) for name in SUMMARY_TABLES},
        "full_tables": {name: len(tables.tables[name]) for name in FULL_TABLES},
    }


def write_json(tables: ReportTables, out: Path) -> list[Path]:
    path = out / "report.json"
    path.write_text(json.dumps(report_json(tables), indent=2, default=str, sort_keys=True) + "\n",
                    encoding="utf-8")
    return [path]


def md_cell(value: object) -> str:
    """Markdown-safe text: no HTML, no table breaks, no links or code spans sneaking in."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if len(text) > MD_CELL_CHARS:
        text = text[:MD_CELL_CHARS] + "… (truncated)"
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "\\`"),
                 ("[", "\\["), ("]", "\\]"), ("*", "\\*")):
        text = text.replace(a, b)
    return text


def md_table(df: pd.DataFrame, limit: int = MD_ROWS) -> list[str]:
    if df.empty:
        return ["none", ""]
    cols = list(df.columns)
    lines = ["| " + " | ".join(md_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in df.head(limit).itertuples(index=False, name=None):
        lines.append("| " + " | ".join(md_cell(v) for v in row) + " |")
    if len(df) > limit:
        lines.append(f"\n{len(df) - limit} more row(s) in the CSV/Parquet files.")
    lines.append("")
    return lines


def write_markdown(tables: ReportTables, out: Path) -> list[Path]:
    s = tables.summary
    lines = ["# Destination-server report", ""]
    for r in s["runs"]:
        dev = r["device"]
        lines.append(f"- Run **{md_cell(r['run_id'])}** ({md_cell(r['status'])}), profile "
                     f"{md_cell(r['profile'])}, {md_cell(dev.get('model', ''))} "
                     f"{md_cell(dev.get('fingerprint', ''))}, patch {md_cell(dev.get('security_patch', ''))}, "
                     f"{md_cell(r['started'])}, {md_cell(r['duration_s'])} s")
    lines.append("")
    for w in s.get("warnings", []):
        lines.append(f"> {md_cell(w)}")
    lines += ["## Summary", ""]
    lines += [f"- {md_cell(k)}: {md_cell(v)}" for k, v in s["counts"].items()]
    d = s["decryption"]
    lines.append(f"- decryption: {d['intercepted']} intercepted, {d['cleartext']} cleartext, "
                 f"{d['tls_rejected']} TLS rejected, {d['failed']} failed, {d['not_http']} not HTTP "
                 f"(passed on unread), of {d['flows']} flows ({d['coverage_percent']} % readable)")
    for item in s["data_types_leaving"]:
        lines.append(f"- data type **{md_cell(item['data_type'])}** leaves to "
                     f"{md_cell(', '.join(item['destinations']))}")
    lines.append("")
    for name in SUMMARY_TABLES:
        lines += [f"## {md_cell(tables.title(name))}", ""]
        lines += md_table(tables.tables[name])
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [path]
