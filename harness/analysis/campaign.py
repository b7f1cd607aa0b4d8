"""Campaign analytics: the figures of `lab campaign report`, computed in DuckDB over a
store's exports (store_db.py), so a thousand captures of ten thousand flows each are
aggregated where they lie.

- `handset_countries`: per handset and destination organisation's home country
  (`org_country`; `unknown` when the organisation's country is not known), the flows,
  the flows carrying sensitive data, the bytes (DNS lookups left out: their organisation
  is the resolver's); `matrix` is the same flows pivoted, handsets x countries;
- `data_types`: per maker, model and firmware (fingerprint), each data type that left:
  runs, handsets, transmissions (flows carrying it), and how many went abroad, where to;
- `firmware_changes`: per model, each firmware version against the one before it (by
  security patch, then first run): destinations that appeared or went, data types that
  began or stopped being sent abroad;
- `verdicts`: the verdict lines of the single-run report, aggregated (see `verdicts`).

Additive figures (flows, bytes, transmissions) are the sums of the single-run reports'
figures; distinct counts (destinations, handsets) are counts of the union.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.analysis.store_db import Database

UNKNOWN_COUNTRY = "unknown"

HANDSET_COUNTRIES = f"""
WITH per_run AS (
    SELECT run_id, coalesce(nullif(org_country, ''), '{UNKNOWN_COUNTRY}') AS org_country,
           count(*) AS flows, count(*) FILTER (WHERE n_findings > 0) AS flows_with_data,
           sum(request_bytes) AS bytes_up, sum(response_bytes) AS bytes_down
    FROM flows WHERE kind IS DISTINCT FROM 'dns' GROUP BY ALL)  -- a lookup's country is its resolver's
SELECT r.handset, r.manufacturer, r.model, p.org_country,
       sum(p.flows)::BIGINT AS flows, sum(p.flows_with_data)::BIGINT AS flows_with_data,
       sum(p.bytes_up)::BIGINT AS bytes_up, sum(p.bytes_down)::BIGINT AS bytes_down,
       count(DISTINCT r.run_id) AS runs
FROM per_run AS p JOIN counted_runs AS r ON r.run_id = p.run_id
GROUP BY ALL ORDER BY r.handset, flows DESC, p.org_country
"""

DATA_TYPES = """
SELECT r.manufacturer, r.model, r.firmware, r.build_id, r.android_release, r.security_patch, f.data_type,
       count(DISTINCT f.run_id) AS runs, count(DISTINCT r.handset) AS handsets,
       count(DISTINCT f.run_id || chr(0) || f.flow_id) AS transmissions,
       count(DISTINCT f.run_id || chr(0) || f.flow_id) FILTER (WHERE list_contains(f.flags, 'foreign'))
           AS transmissions_abroad,
       count(DISTINCT f.destination) AS destinations,
       count(DISTINCT f.destination) FILTER (WHERE list_contains(f.flags, 'foreign')) AS destinations_abroad,
       coalesce(string_agg(DISTINCT f.org_country, ', ' ORDER BY f.org_country), '') AS org_countries,
       coalesce(string_agg(DISTINCT f.country, ', ' ORDER BY f.country), '') AS server_countries,
       coalesce(string_agg(DISTINCT f.encoding, ', ' ORDER BY f.encoding), '') AS encodings
FROM findings AS f JOIN counted_runs AS r ON r.run_id = f.run_id
GROUP BY ALL ORDER BY r.manufacturer, r.model, r.security_patch, r.firmware, transmissions DESC, f.data_type
"""

FIRMWARES = """
SELECT manufacturer, model, firmware, max(security_patch) AS security_patch, min(started) AS first_run,
       count(*) AS runs
FROM counted_runs WHERE firmware IS NOT NULL GROUP BY ALL
"""

FIRMWARE_DESTINATIONS = """
SELECT r.manufacturer, r.model, r.firmware, d.destination,
       coalesce(string_agg(DISTINCT d.org, ', ' ORDER BY d.org), '') AS org,
       coalesce(string_agg(DISTINCT d.org_country, ', ' ORDER BY d.org_country), '') AS org_country,
       coalesce(string_agg(DISTINCT d.country, ', ' ORDER BY d.country), '') AS country,
       sum(d.flows + d.bypassed)::BIGINT AS connections
FROM destinations AS d JOIN counted_runs AS r ON r.run_id = d.run_id
WHERE r.firmware IS NOT NULL GROUP BY ALL
"""

FIRMWARE_TYPES_ABROAD = """
SELECT r.manufacturer, r.model, r.firmware, f.data_type,
       string_agg(DISTINCT f.destination, ', ' ORDER BY f.destination) AS destinations,
       coalesce(string_agg(DISTINCT f.org_country, ', ' ORDER BY f.org_country), '') AS org_country
FROM findings AS f JOIN counted_runs AS r ON r.run_id = f.run_id
WHERE r.firmware IS NOT NULL AND list_contains(f.flags, 'foreign') GROUP BY ALL
"""

SEVERITY_RANK = ("CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
                 "WHEN 'low' THEN 1 ELSE 0 END")

VERDICTS = f"""
WITH v AS (SELECT *, {SEVERITY_RANK} AS rank FROM verdicts)
SELECT CASE max(v.rank) WHEN 4 THEN 'critical' WHEN 3 THEN 'high' WHEN 2 THEN 'medium' WHEN 1 THEN 'low'
           ELSE 'info' END AS severity,
       v.kind, v.data_type, v.destination, v.app, v.library, v.sdk,
       count(DISTINCT v.run_id) AS runs, count(DISTINCT r.handset) AS handsets,
       count(DISTINCT r.firmware) AS firmware_versions,
       string_agg(DISTINCT r.manufacturer || ' ' || r.model, ', ' ORDER BY r.manufacturer || ' ' || r.model) AS models,
       sum(v.flows)::BIGINT AS flows, sum(v.hook_events)::BIGINT AS hook_events,
       array_to_string(list_sort(list_distinct(flatten(list(v.requirements)))), ', ') AS requirements,
       min(v.finding) AS example
FROM v JOIN counted_runs AS r ON r.run_id = v.run_id
GROUP BY v.kind, v.data_type, v.destination, v.app, v.library, v.sdk
ORDER BY max(v.rank) DESC, runs DESC, flows DESC, example
"""

RUNS = """
SELECT run_id, capture, campaign_id, status, superseded, profile, handset, manufacturer, model, firmware,
       security_patch, started, ended, flows, findings, destinations, foreign_destinations
FROM runs ORDER BY manufacturer, model, security_patch, handset, started, run_id
"""

CHANGE_COLUMNS = ["manufacturer", "model", "from_firmware", "to_firmware", "change", "item", "org",
                  "org_country", "detail"]


@dataclass
class CampaignFigures:
    summary: dict[str, Any]
    runs: pd.DataFrame
    handset_countries: pd.DataFrame
    matrix: pd.DataFrame
    data_types: pd.DataFrame
    firmware_changes: pd.DataFrame
    verdicts: pd.DataFrame | None  # None: no verdict lines in the exports (yet)
    missing_runs: pd.DataFrame  # runs the campaign index lists that left no capture in the store
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        tables = {"runs": self.runs, "handset_countries": self.handset_countries, "matrix": self.matrix,
                  "data_types": self.data_types, "firmware_changes": self.firmware_changes,
                  "missing_runs": self.missing_runs}
        if self.verdicts is not None:
            tables["verdicts"] = self.verdicts
        return tables


def matrix(handset_countries: pd.DataFrame) -> pd.DataFrame:
    """Flows per handset (rows) and organisation home country (columns, most flows first)."""
    if handset_countries.empty:
        return pd.DataFrame(columns=["handset", "manufacturer", "model"])
    order = handset_countries.groupby("org_country")["flows"].sum().sort_values(ascending=False, kind="stable")
    pivot = handset_countries.pivot_table(index=["handset", "manufacturer", "model"], columns="org_country",
                                          values="flows", aggfunc="sum", fill_value=0)
    pivot = pivot.reindex(columns=list(order.index)).reset_index()
    pivot.columns.name = None
    return pivot


def firmware_changes(firmwares: pd.DataFrame, destinations: pd.DataFrame, abroad: pd.DataFrame) -> pd.DataFrame:
    """Each model's firmware versions in order (security patch, first run), each against the
    one before: new and gone destinations, data types newly (or no longer) sent abroad."""
    rows: list[dict[str, Any]] = []
    ordered = firmwares.sort_values(["manufacturer", "model", "security_patch", "first_run", "firmware"],
                                    na_position="first", kind="stable")
    dest = {k: g.set_index("destination") for k, g in destinations.groupby(["manufacturer", "model", "firmware"])}
    types = {k: g.set_index("data_type") for k, g in abroad.groupby(["manufacturer", "model", "firmware"])}
    empty_dest = destinations.iloc[0:0].set_index("destination")
    empty_types = abroad.iloc[0:0].set_index("data_type")
    for (maker, model), group in ordered.groupby(["manufacturer", "model"], sort=False, dropna=False):
        versions = list(group["firmware"])
        for before, after in zip(versions, versions[1:], strict=False):
            key = {"manufacturer": maker, "model": model, "from_firmware": before, "to_firmware": after}
            d0, d1 = (dest.get((maker, model, fw), empty_dest) for fw in (before, after))
            for change, names, table in (("new destination", d1.index.difference(d0.index), d1),
                                         ("gone destination", d0.index.difference(d1.index), d0)):
                for name in sorted(names):
                    row = table.loc[name]
                    rows.append({**key, "change": change, "item": name, "org": row["org"],
                                 "org_country": row["org_country"],
                                 "detail": f"{int(row['connections'])} connection(s), server in {row['country'] or '?'}"})
            t0, t1 = (types.get((maker, model, fw), empty_types) for fw in (before, after))
            for change, names, table in (("new data type abroad", t1.index.difference(t0.index), t1),
                                         ("data type no longer abroad", t0.index.difference(t1.index), t0)):
                for name in sorted(names):
                    row = table.loc[name]
                    rows.append({**key, "change": change, "item": name, "org": "",
                                 "org_country": row["org_country"], "detail": f"to {row['destinations']}"})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def verdicts(db: Database) -> pd.DataFrame | None:
    """The single-run report's verdict lines (issue 22), aggregated: one row per line (its
    kind, data type, destination, app, library, SDK) with the highest severity it had, the
    runs, handsets, firmware versions and models it was found in, its flows summed, and
    one run's wording of it. None when no export holds verdict lines (exports made before
    harness/analysis/verdict.py, or by a harness without it)."""
    return db.con.sql(VERDICTS).df() if db.files.get("verdicts") else None


def _missing_runs(db: Database) -> pd.DataFrame:
    return db.con.sql("""
        SELECT c.* FROM campaign_runs AS c
        WHERE c.run_id IS NULL OR c.run_id NOT IN (SELECT run_id FROM runs)
        ORDER BY c.status, c.run_id""").df()


def _summary(db: Database, all_runs: pd.DataFrame) -> dict[str, Any]:
    runs = all_runs[~all_runs["superseded"].astype(bool)]
    flows, findings = (int(runs[c].fillna(0).sum()) for c in ("flows", "findings"))  # each export's own counts
    index = db.store.index
    return {
        "store": str(db.store.root),
        "campaign_ids": sorted({str(c) for c in runs["campaign_id"].dropna()} | (
            {index.campaign_id} if index.campaign_id else set())),
        "captures": len(db.store.captures), "captures_reported": len(runs),
        "captures_superseded": int(len(all_runs) - len(runs)),
        "captures_without_export": [db.store.relative(p) for p in db.missing],
        "runs_by_status": {str(k): int(v) for k, v in runs["status"].fillna("unknown").value_counts().items()},
        "handsets": int(runs["handset"].nunique()), "manufacturers": int(runs["manufacturer"].nunique()),
        "models": int(runs[["manufacturer", "model"]].drop_duplicates().shape[0]),
        "firmware_versions": int(runs["firmware"].nunique()), "profiles": int(runs["profile"].nunique()),
        "flows": int(flows), "findings": int(findings),
    }


def campaign_figures(db: Database) -> CampaignFigures:
    """The figures over the store's runs but the attempts a retry superseded."""
    con = db.con
    con.execute("CREATE OR REPLACE TEMP VIEW counted_runs AS SELECT * FROM runs WHERE NOT superseded")
    runs = con.sql(RUNS).df()
    handset_countries = con.sql(HANDSET_COUNTRIES).df()
    changes = firmware_changes(con.sql(FIRMWARES).df(), con.sql(FIRMWARE_DESTINATIONS).df(),
                               con.sql(FIRMWARE_TYPES_ABROAD).df())
    warnings = list(db.store.index.warnings)
    duplicated = runs.loc[runs["run_id"].duplicated(), "run_id"].unique()
    if len(duplicated):
        warnings.append(f"{len(duplicated)} run id(s) appear in more than one capture folder (copies?), "
                        f"counted each time: {', '.join(map(str, duplicated[:10]))}")
    return CampaignFigures(
        summary=_summary(db, runs), runs=runs, handset_countries=handset_countries,
        matrix=matrix(handset_countries), data_types=con.sql(DATA_TYPES).df(), firmware_changes=changes,
        verdicts=verdicts(db), missing_runs=_missing_runs(db), warnings=warnings,
    )
