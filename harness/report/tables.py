"""The report's tables, as every output format writes them.

One place builds them, so HTML, CSV, XLSX, JSON, Markdown and Parquet show the same
numbers. Sensitive values (the canaries and device identifiers of the runs) are masked
in every text cell unless the report is revealed: first two and last two characters,
the middle always four stars, so equal values mask equally and lengths are not told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from harness.analysis import Analysis
from harness.analysis.dataflows import join_distinct
from harness.analysis.summary import iso

TIME_COLUMNS = ("first_seen", "last_seen", "ts")

# (name, title, source) of the tables every format carries; `full` ones can be huge and
# go whole only to CSV and Parquet (HTML and XLSX show the first rows, JSON none).
SUMMARY_TABLES = ("destinations", "data_flows", "bypassed", "apps", "countries", "orgs")
FULL_TABLES = ("flows", "findings", "reads", "steps")

TITLES = {
    "destinations": "Destination servers",
    "data_flows": "Data flows: who read what, and where it went",
    "bypassed": "Connections that bypassed the proxy",
    "apps": "Apps and components",
    "countries": "Countries",
    "orgs": "Organisations",
    "flows": "Flows",
    "findings": "Findings",
    "reads": "Sensitive reads",
    "steps": "Steps",
}


# Columns whose values come from closed sets the harness itself writes: never masked.
CLOSED_COLUMNS = frozenset({
    "run_id", "scheme", "method", "http_version", "kind", "country", "country_confidence",
    "org_country", "attribution_method", "attribution_confidence", "flags", "step_kind", "severity",
    "encoding", "encodings", "finding_type", "data_type", "canary_id", "link", "tls_version",
    "country_sources", "category", "attribution",
})


def mask_value(value: str) -> str:
    if len(value) <= 6:
        return "*" * len(value)
    return f"{value[:2]}****{value[-2:]}"


class Masker:
    """Replaces every occurrence of the given sensitive values inside text, in any case
    (the values come in every form and encoding: analysis/masked_texts.py)."""

    def __init__(self, values: list[str], reveal: bool = False):
        values = sorted({v for v in values if isinstance(v, str) and len(v) >= 4}, key=len, reverse=True)
        self.reveal = reveal or not values
        self._pattern = (None if self.reveal else
                         re.compile("|".join(re.escape(v) for v in values), re.IGNORECASE))

    def text(self, value: Any) -> Any:
        if self._pattern is None or not isinstance(value, str):
            return value
        return self._pattern.sub(lambda m: mask_value(m.group(0)), value)

    def tree(self, value: Any) -> Any:
        """Every string (keys too) of nested dicts and lists masked."""
        if isinstance(value, dict):
            return {self.tree(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return self.text(value)

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        if self._pattern is None or df.empty:
            return df
        out = df.copy()
        for col in out.columns:
            if col in CLOSED_COLUMNS:
                continue
            series = out[col]
            if not (pd.api.types.is_string_dtype(series) or series.dtype == object):
                continue
            try:
                arr = pa.array(series, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = pa.array(series.astype(object).map(lambda v: v if v is None or isinstance(v, str) else str(v)),
                               from_pandas=True)
            if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
                continue
            hit = pc.fill_null(pc.match_substring_regex(arr, self._pattern.pattern, ignore_case=True), False)
            if not pc.any(hit).as_py():
                continue
            mask = hit.to_numpy(zero_copy_only=False)
            text = series.astype(object)
            out[col] = text.where(~mask, text[mask].map(self.text))
        return out


def _times(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in TIME_COLUMNS:
        if col in out:
            out[col] = out[col].map(iso)
    return out


def apps_table(a: Analysis) -> pd.DataFrame:
    flows = a.flows
    cols = ["app", "flows", "bytes_up", "bytes_down", "destinations", "foreign_destinations",
            "attribution", "data_types_sent"]
    if flows.empty:
        return pd.DataFrame(columns=cols)
    g = flows.groupby("app")
    out = g.agg(flows=("flow_id", "size"), bytes_up=("request_bytes", "sum"),
                bytes_down=("response_bytes", "sum"), destinations=("destination", "nunique")).reset_index()
    foreign = flows.loc[flows["flags"].str.contains("foreign", regex=False), ["app", "destination"]]
    out["foreign_destinations"] = out["app"].map(foreign.groupby("app")["destination"].nunique()).fillna(0).astype(int)
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
        "destinations": _times(dest),
        "data_flows": _times(a.data_flows),
        "bypassed": _times(a.bypassed),
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
        tables["reads"] = reads.assign(value=values.where(values.isna(), values.map(_mask_whole)))
    return ReportTables(summary=summary, tables=tables, revealed=reveal)


def _mask_whole(value: Any) -> Any:
    text = str(value)
    return text if "****" in text or set(text) == {"*"} else mask_value(text)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN -> None, numpy scalars -> Python."""
    clean = df.astype(object).where(df.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]
