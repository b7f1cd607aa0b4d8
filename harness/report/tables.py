"""The report's tables, as every output format writes them.

One place builds them, so HTML, CSV, XLSX, JSON, Markdown and Parquet show the same
numbers. Sensitive values (the canaries and device identifiers of the runs) are masked
in every text cell unless the report is revealed: first two and last two characters,
the middle always four stars, so equal values mask equally and lengths are not told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.analysis import Analysis
from harness.analysis.dataflows import join_distinct
from harness.analysis.frames import connections_only
from harness.analysis.masking import Masker, mask_whole
from harness.analysis.summary import iso

TIME_COLUMNS = ("first_seen", "last_seen", "ts")

# (name, title, source) of the tables every format carries; `full` ones can be huge and
# go whole only to CSV and Parquet (HTML and XLSX show the first rows, JSON none).
SUMMARY_TABLES = ("verdict", "requirements", "phases", "recurring", "app_coverage", "kind_coverage", "sdks",
                  "destinations", "dns_only", "data_flows", "bypassed", "tunnel_leaks", "apps",
                  "countries", "orgs")
FULL_TABLES = ("flows", "findings", "reads", "steps")

TITLES = {
    "verdict": "Verdict",
    "requirements": "Requirements",
    "phases": "Per phase: what the handset sent in each scenario",
    "recurring": "Recurring connections",
    "app_coverage": "Coverage per app: what the audit could read",
    "kind_coverage": "Coverage by kind: what the capture saw of each kind of traffic",
    "sdks": "Trackers and SDKs",
    "destinations": "Destination servers",
    "dns_only": "Destinations seen only through DNS (looked up, never connected to)",
    "data_flows": "Data flows: who read what, and where it went",
    "bypassed": "Connections that bypassed the proxy",
    "tunnel_leaks": "Connections that went around the WireGuard tunnel (leaks)",
    "apps": "Apps and components",
    "countries": "Countries",
    "orgs": "Organisations",
    "flows": "Flows",
    "findings": "Findings",
    "reads": "Sensitive reads",
    "steps": "Steps",
}


def _times(df: pd.DataFrame, columns: tuple[str, ...] = TIME_COLUMNS) -> pd.DataFrame:
    out = df.copy()
    for col in columns:
        if col in out:
            out[col] = out[col].map(iso)
    return out


def apps_table(a: Analysis) -> pd.DataFrame:
    """Per app its connections (flows, bytes, destinations: DNS lookups left out, their
    destination is the resolver) and, apart, how many names it looked up."""
    flows = a.flows
    cols = ["app", "flows", "bytes_up", "bytes_down", "destinations", "foreign_destinations", "dns_lookups",
            "attribution", "data_types_sent"]
    if flows.empty:
        return pd.DataFrame(columns=cols)
    connections = connections_only(flows)
    g = connections.groupby("app")
    out = g.agg(flows=("flow_id", "size"), bytes_up=("request_bytes", "sum"),
                bytes_down=("response_bytes", "sum"), destinations=("destination", "nunique"))
    out = out.reindex(flows["app"].drop_duplicates().sort_values(), fill_value=0).rename_axis("app").reset_index()
    foreign = connections.loc[connections["flags"].str.contains("foreign", regex=False), ["app", "destination"]]
    out["foreign_destinations"] = out["app"].map(foreign.groupby("app")["destination"].nunique()).fillna(0).astype(int)
    lookups = flows.loc[~flows.index.isin(connections.index), "app"].value_counts()
    out["dns_lookups"] = out["app"].map(lookups).fillna(0).astype(int)
    out = out.merge(join_distinct(flows, ["app"], col="attribution", src="attribution_method"), how="left", on="app")
    if not a.findings.empty:
        out = out.merge(join_distinct(a.findings, ["app"], col="data_types_sent", src="data_type"),
                        how="left", on="app")
    else:
        out["data_types_sent"] = ""
    out = out.fillna({"attribution": "", "data_types_sent": ""})
    return out.sort_values(["flows", "app"], ascending=[False, True])[cols].reset_index(drop=True)


@dataclass
class ReportTables:
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    revealed: bool
    notes: list[str] = field(default_factory=list)

    def title(self, name: str) -> str:
        return TITLES.get(name, name)


def build_tables(a: Analysis, *, reveal: bool = False) -> ReportTables:
    """The masked, presentation-ready tables of an analysis."""
    masker = Masker(a.canary_values, reveal=reveal)
    dest = a.destinations.drop(columns=["severity_rank"], errors="ignore")
    tables = {
        "verdict": a.verdict,
        "requirements": a.requirements,
        "phases": _times(a.phases, ("start", "end")),
        "recurring": _times(a.recurring),
        "app_coverage": a.app_coverage,
        "kind_coverage": a.kind_coverage,
        "sdks": a.sdks,
        "destinations": _times(dest),
        "dns_only": _times(a.dns_only),
        "data_flows": _times(a.data_flows),
        "bypassed": _times(a.bypassed),
        "tunnel_leaks": _times(a.tunnel_leaks),
        "apps": apps_table(a),
        "countries": a.countries,
        "orgs": a.orgs,
        "flows": a.flows,
        "findings": a.findings,
        "reads": a.reads_public(),
        "steps": a.steps,
    }
    tables = {name: masker.frame(df.reset_index(drop=True)) for name, df in tables.items()}
    summary = a.summary
    if not masker.reveal:
        summary = masker.tree(summary)
    if not reveal:  # a value a hook read is sensitive even when no canary names it
        reads = tables["reads"]
        values = reads["value"].astype(object)
        tables["reads"] = reads.assign(value=values.where(values.isna(), values.map(mask_whole)))
    return ReportTables(summary=summary, tables=tables, revealed=reveal)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN -> None, numpy scalars -> Python."""
    clean = df.astype(object).where(df.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]
