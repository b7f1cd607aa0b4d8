"""The XLSX workbook for auditors: a summary sheet, then one sheet per table."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from harness.report.flat import defuse
from harness.report.private import private_file
from harness.report.tables import FULL_TABLES, SUMMARY_TABLES, ReportTables

# openpyxl writes ~100k cells a second: the big tables go whole to CSV/Parquet only
XLSX_MAX_ROWS = 10_000
XLSX_FLOW_COLUMNS = ["flow_id", "ts_start", "app", "attribution_method", "attribution_confidence", "method",
                     "url", "destination", "server_ip", "server_port", "status", "kind", "coverage", "request_bytes",
                     "response_bytes", "country", "org", "flags", "n_findings", "tls_failure", "notes"]
XLSX_CELL_CHARS = 32_000


def _value(v: object) -> object:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, str):
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
        if len(v) > XLSX_CELL_CHARS:  # Excel's limit per cell
            v = v[:XLSX_CELL_CHARS] + "… [truncated: full value in the CSV]"
        return defuse(v)
    if isinstance(v, int | float | bool):
        return v
    return str(v)


def write_xlsx(tables: ReportTables, out: Path) -> list[Path]:
    wb = Workbook(write_only=True)
    s = tables.summary
    ws = wb.create_sheet("summary")
    ws.append(["key", "value"])
    for r in s["runs"]:
        ws.append(["run", _value(r["run_id"])])
        for k, v in r["device"].items():
            ws.append([f"device.{k}", _value(v)])
        ws.append(["profile", _value(r["profile"])])
        ws.append(["duration_s", r["duration_s"]])
    for k, v in s["counts"].items():
        ws.append([k, v])
    for k, v in s["decryption"].items():
        ws.append([f"decryption.{k}", v])
    notes = []
    for name in SUMMARY_TABLES + FULL_TABLES:
        df = tables.tables[name]
        if name == "flows":
            df = df.reindex(columns=XLSX_FLOW_COLUMNS)
        sheet = wb.create_sheet(name[:31])
        sheet.freeze_panes = "A2"
        for i, col in enumerate(df.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(max(len(str(col)) + 2, 12), 48)
        sheet.append(list(df.columns))
        for row in df.head(XLSX_MAX_ROWS).itertuples(index=False, name=None):
            sheet.append([_value(v) for v in row])
        if len(df) > XLSX_MAX_ROWS:
            notes.append(f"{name}: first {XLSX_MAX_ROWS} of {len(df)} rows; all rows and columns in "
                         f"{name}.csv / {name}.parquet")
    if notes:
        ws.append(["notes", "; ".join(notes)])
    path = private_file(out / "report.xlsx")
    wb.save(path)
    return [path]
