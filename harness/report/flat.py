"""CSV, JSON, Markdown and Parquet outputs of the report tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from harness.report.private import private_file
from harness.report.tables import FULL_TABLES, SUMMARY_TABLES, ReportTables, records

# A cell starting with one of these is a formula to a spreadsheet: CSV/XLSX get a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MD_ROWS = 200
MD_CELL_CHARS = 300
VERDICT_CHARS = 4000  # a verdict line is said whole
_MD_ENTITY = re.compile(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_MD_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


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
        path = private_file(out / f"{name}.csv")
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
        path = private_file(out / f"{name}.parquet")
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
    text = json.dumps(report_json(tables), indent=2, default=str, sort_keys=True) + "\n"
    path = private_file(out / "report.json")
    path.write_text(text, encoding="utf-8")
    return [path]


def md_cell(value: object, limit: int = MD_CELL_CHARS) -> str:
    """Markdown-safe text: no HTML, no table breaks, no links or code spans sneaking in.

    Read in a terminal as it is written: only what a renderer would act on is escaped.
    A `<` that could open a tag, comment, instruction or autolink becomes `&lt;` (an
    entity every renderer shows as `<`; a backslash is not an escape for `<` in all of
    them), and a `&` that would start an entity becomes `&amp;`; `->`, `a < b` and `R&D`
    stay as they are.
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if len(text) > limit:
        text = text[:limit] + "… (truncated)"
    text = text.replace("\\", "\\\\")  # so no escape below can be undone by a backslash before it
    text = _MD_ENTITY.sub("&amp;", text)  # before `<`, whose own escape is an entity
    text = _MD_TAG_OPEN.sub("&lt;", text)
    for a, b in (("|", "\\|"), ("`", "\\`"), ("[", "\\["), ("]", "\\]"), ("*", "\\*")):
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


def run_line(run: dict) -> str:
    """`- Run **id** (status), profile P, model fingerprint, patch X, started T, N s`:
    only the parts the capture knows (an imported one knows no profile or device)."""
    dev = run.get("device") or {}
    handset = " ".join(md_cell(dev[k]) for k in ("model", "fingerprint") if dev.get(k) not in (None, ""))
    parts = [
        f"profile {md_cell(run.get('profile'))}" if run.get("profile") else "",
        handset,
        f"patch {md_cell(dev.get('security_patch'))}" if dev.get("security_patch") else "",
        f"started {md_cell(run.get('started'))}" if run.get("started") else "",
        f"{md_cell(run['duration_s'])} s" if run.get("duration_s") is not None else "",
    ]
    head = f"- Run **{md_cell(run['run_id'])}** ({md_cell(run['status'])})"
    return ", ".join([head, *(p for p in parts if p)])


def verdict_lines(verdict: pd.DataFrame) -> list[str]:
    """The verdict as a numbered list: severity, the line, its requirements (first MD_ROWS)."""
    lines = ["## Verdict", ""]
    if verdict.empty:
        return lines + ["No finding.", ""]
    for v in verdict.head(MD_ROWS).itertuples(index=False):
        reqs = f" ({md_cell(v.requirements, VERDICT_CHARS)})" if v.requirements else ""
        lines.append(f"{int(v.n)}. **{md_cell(v.severity)}** {md_cell(v.finding, VERDICT_CHARS)}{reqs}")
    if len(verdict) > MD_ROWS:
        lines.append(f"\n{len(verdict) - MD_ROWS} more line(s) in verdict.csv.")
    return lines + [""]


def write_markdown(tables: ReportTables, out: Path) -> list[Path]:
    s = tables.summary
    lines = ["# Destination-server report", ""]
    for r in s["runs"]:
        lines.append(run_line(r))
    lines.append("")
    for w in s.get("warnings", []):
        lines.append(f"> {md_cell(w)}")
    lines += verdict_lines(tables.tables["verdict"])
    lines += ["## Summary", ""]
    lines += [f"- {md_cell(k)}: {md_cell(v)}" for k, v in s["counts"].items()]
    if s.get("tunnel_check"):  # WireGuard mode: Frida's connects against the proxy's flows
        lines.append(f"- tunnel cross-check: {md_cell(s['tunnel_check']['line'])}")
    d = s["decryption"]
    lines.append(f"- decryption: {d['intercepted']} intercepted, {d['cleartext']} cleartext, "
                 f"{d['tls_rejected']} TLS rejected, {d['failed']} failed, {d['not_http']} not HTTP "
                 f"(passed on unread), of {d['flows']} flows ({d['coverage_percent']} % readable)")
    for item in s.get("mixed_script_destinations", []):
        lines.append(f"- mixed-script host (a look-alike?): {md_cell(item['destination'])} = "
                     f"{md_cell(item['destination_ascii'] or item['destination'])} "
                     f"({md_cell(' + '.join(item['scripts']))})")
    for item in s["data_types_leaving"]:
        lines.append(f"- data type **{md_cell(item['data_type'])}** leaves to "
                     f"{md_cell(', '.join(item['destinations']))}")
    lines.append("")
    for name in SUMMARY_TABLES:
        if name == "verdict":  # said first, as a list
            continue
        lines += [f"## {md_cell(tables.title(name))}", ""]
        lines += md_table(tables.tables[name])
    path = private_file(out / "report.md")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [path]
