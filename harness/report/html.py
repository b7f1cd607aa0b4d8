"""The HTML report: one self-contained file, no network fetch, every capture value escaped.

jinja2 autoescapes every cell; the JSON embedded for machines has `<`, `>` and `&`
escaped as \\u003c, \\u003e, \\u0026 so no `</script>` or `<!--` can end its script; a
Content-Security-Policy forbids any fetch. Tables are aggregates plus the first rows of
the large ones: full rows live in CSV and Parquet.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from harness.analysis import Analysis
from harness.report.charts import bar_chart, timeline
from harness.report.private import private_file
from harness.report.tables import ReportTables
from harness.report.verdict_view import verdict_view

HTML_MAX_ROWS = 2000
HTML_FLOW_ROWS = 500
HTML_CELL_CHARS = 600

HTML_TABLES = ("phases", "recurring", "app_coverage", "kind_coverage", "sdks", "destinations", "dns_only",
               "data_flows", "bypassed", "apps", "reads", "flows")
FLOW_COLUMNS = ["flow_id", "ts_start", "app", "attribution_method", "attribution_confidence", "method",
                "url", "destination", "server_ip", "server_port", "status", "kind", "coverage", "request_bytes",
                "response_bytes", "country", "org", "flags", "n_findings", "tls_failure", "notes"]
READ_COLUMNS = ["package", "library", "api", "data_type", "value", "reads", "first", "last"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def script_json(data: Any) -> Markup:
    """JSON safe inside <script>: no `</script>`, `<!--` or `]]>` can survive it."""
    text = json.dumps(data, default=str, sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def _cell(value: Any) -> tuple[str, str | None]:
    """(shown text, numeric sort key or None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "", None
    if isinstance(value, bool):
        return ("yes" if value else "no"), None
    if isinstance(value, int | float) or hasattr(value, "dtype"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value), None
        if math.isnan(number):
            return "", None
        shown = str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.3f}"
        return shown, repr(number)
    return str(value), None


def _short(cell: tuple[str, str | None]) -> tuple[str, str | None]:
    text, key = cell
    if len(text) > HTML_CELL_CHARS:
        text = f"{text[:HTML_CELL_CHARS]}… [{len(text) - HTML_CELL_CHARS} more characters in the CSV]"
    return text, key


def _table(df: pd.DataFrame, limit: int) -> dict[str, Any]:
    shown = df.head(limit)
    rows = [[_short(_cell(v)) for v in row] for row in shown.itertuples(index=False, name=None)]
    return {"columns": list(df.columns), "rows": rows, "total": len(df), "shown": len(shown)}


def _reads_agg(reads: pd.DataFrame) -> pd.DataFrame:
    if reads.empty:
        return pd.DataFrame(columns=READ_COLUMNS)
    r = reads.copy()
    for col in ("package", "library", "api", "data_type", "value"):
        r[col] = r[col].astype(object).where(r[col].notna(), "")
    out = r.groupby(["package", "library", "api", "data_type", "value"], sort=False).agg(
        reads=("ts", "size"), first=("ts", "min"), last=("ts", "max")).reset_index()
    from harness.analysis.summary import iso

    out["first"] = out["first"].map(iso)
    out["last"] = out["last"].map(iso)
    return out[READ_COLUMNS].sort_values(["reads", "package"], ascending=[False, True])


def _short_evidence(df: pd.DataFrame, keep: int = 3) -> pd.DataFrame:
    """The first flow ids of each row's evidence and how many more (all of them in the CSV)."""
    if df.empty or "evidence" not in df:
        return df

    def short(text: object) -> object:
        ids = str(text).split()
        return text if len(ids) <= keep else " ".join(ids[:keep]) + f" … (+{len(ids) - keep} more)"

    return df.assign(evidence=df["evidence"].map(short))


def _flows_view(flows: pd.DataFrame) -> pd.DataFrame:
    if flows.empty:
        return flows.reindex(columns=FLOW_COLUMNS)
    # most telling first: with findings, then flagged, then by time (lexsort: last key first)
    order = np.lexsort((
        flows["ts_start"].to_numpy(dtype=float, na_value=np.inf),
        -(flows["flags"].astype(str) != "").to_numpy(dtype=int),
        -flows["n_findings"].to_numpy(dtype=np.int64, na_value=0),
    ))[:HTML_FLOW_ROWS]
    view = flows.iloc[order].reindex(columns=FLOW_COLUMNS)
    from harness.analysis.summary import iso

    view["ts_start"] = view["ts_start"].map(iso)
    return view


def render_html(analysis: Analysis, tables: ReportTables) -> str:
    t = tables.tables
    charts = [
        bar_chart(t["countries"], "country", "bytes", "Bytes per country"),
        bar_chart(t["countries"], "country", "flows", "Flows per country", color="#4bacc6"),
        bar_chart(t["orgs"], "org", "bytes", "Bytes per organisation", color="#8064a2"),
        bar_chart(t["orgs"], "org", "flows", "Flows per organisation", color="#9bbb59"),
    ]
    views = {
        "phases": t["phases"].drop(columns=["run_id"], errors="ignore") if len(analysis.runs) < 2 else t["phases"],
        "recurring": t["recurring"],
        "app_coverage": t["app_coverage"],
        "kind_coverage": t["kind_coverage"],
        "sdks": t["sdks"],
        "destinations": t["destinations"],
        "dns_only": _short_evidence(t["dns_only"]),
        "data_flows": _short_evidence(t["data_flows"]),
        "bypassed": t["bypassed"],
        "apps": t["apps"],
        "reads": _reads_agg(t["reads"]),
        "flows": _flows_view(t["flows"]),
    }
    sections = []
    for name in HTML_TABLES:
        limit = HTML_FLOW_ROWS if name == "flows" else HTML_MAX_ROWS
        table = _table(views[name], limit)
        table["name"] = name
        table["title"] = tables.title(name)
        table["full"] = len(t[name]) if name in ("flows", "reads") else table["total"]
        sections.append(table)
    template = _ENV.get_template("report.html.j2")
    return template.render(
        verdict=verdict_view(t["verdict"], t["requirements"], t["flows"], t["reads"],
                             pd.concat([t["bypassed"], t["tunnel_leaks"]], ignore_index=True)),
        tunnel=_table(t["tunnel_leaks"], HTML_MAX_ROWS),  # WireGuard mode's cross-check
        summary=tables.summary,
        revealed=tables.revealed,
        charts=charts,
        timeline=timeline(t["flows"], t["reads"], analysis.steps),
        sections=sections,
        data=script_json({"summary": tables.summary}),
    )


def write_html(analysis: Analysis, tables: ReportTables, out: Path) -> Path:
    text = render_html(analysis, tables)
    path = private_file(out / "report.html")
    path.write_text(text, encoding="utf-8")
    return path
