"""The run per phase: what the handset sent during each scenario of the profile.

A profile names the scenario each step belongs to (`phase:` in a step: first start, SIM
insertion, long idle, opening Settings, ...); run.json's timeline entries carry it, and
a step without one is its own kind's phase (`idle`, `reboot`). Consecutive or not, the
steps of one phase make one row, in the order the phase first ran. Whatever happened
between steps (before the first, during prepare, after the last) is `(between steps)`.

Per phase: its steps and time span, flows and bytes, destinations (most bytes first),
the foreign ones, the identifiers and other data types sent (with their encodings),
the data types apps read, and the recurring connections seen in it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.datatypes import is_identifier

BETWEEN = "(between steps)"
SHOWN = 12  # destinations named per phase; the rest are counted
PHASE_COLUMNS = ["run_id", "phase", "steps", "start", "end", "duration_s", "flows", "bytes_up",
                 "bytes_down", "destinations", "foreign_destinations", "identifiers_sent",
                 "data_types_sent", "data_types_read", "recurring"]


def phase_at(run_ids: pd.Series, ts: pd.Series, steps: pd.DataFrame) -> np.ndarray:
    """The phase of each (run, time): the step that was running, else BETWEEN."""
    out = np.full(len(ts), BETWEEN, dtype=object)
    if steps.empty or not len(ts):
        return out
    left = pd.DataFrame({"_row": np.arange(len(ts)), "ts": pd.to_numeric(ts, errors="coerce").to_numpy(dtype=float),
                         "run_id": run_ids.astype(object).to_numpy()}).dropna(subset=["ts"])
    merged = pd.merge_asof(left.sort_values("ts"), steps.sort_values("start"), left_on="ts", right_on="start",
                           by="run_id", direction="backward")
    merged = merged[merged["ts"] <= merged["end"]]
    out[merged["_row"].to_numpy(dtype=int)] = merged["phase"].to_numpy(dtype=object)
    return out


def phases_frame(flows: pd.DataFrame, findings: pd.DataFrame, reads: pd.DataFrame,
                 steps: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, phase), in the order the phases ran (see the module doc). A flow's
    `recurrence` (periodicity.recurring_frame) says the timer it is a beat of."""
    order = _order(steps)
    timers = _timers(flows)
    rows = []
    per = _per_destination(flows)
    flow_groups = dict(tuple(per.groupby(["run_id", "phase"], sort=False))) if len(per) else {}
    finding_groups = dict(tuple(findings.groupby(["run_id", "phase"], sort=False))) if len(findings) else {}
    read_groups = dict(tuple(reads.groupby(["run_id", "phase"], sort=False))) if len(reads) else {}
    keys = list(order) + sorted(k for k in set(flow_groups) | set(finding_groups) | set(read_groups)
                                if k not in order)
    for key in keys:
        run_id, phase = key
        f = flow_groups.get(key, per.iloc[0:0])
        s = order.get(key)
        start = s["start"] if s else (float(f["first"].min()) if len(f) else None)
        end = s["end"] if s and np.isfinite(s["end"]) else (float(f["last"].max()) if len(f) else None)
        sent = finding_groups.get(key)
        read = read_groups.get(key)
        rows.append({
            "run_id": run_id, "phase": phase, "steps": s["steps"] if s else "",
            "start": start, "end": end,
            "duration_s": round(end - start, 1) if start is not None and end is not None else None,
            "flows": int(f["flows"].sum()), "bytes_up": int(f["up"].sum()), "bytes_down": int(f["down"].sum()),
            "destinations": _destinations(f), "foreign_destinations": _destinations(f, foreign=True),
            "identifiers_sent": _types(sent, identifiers=True), "data_types_sent": _types(sent, identifiers=False),
            "data_types_read": ", ".join(sorted({str(t) for t in read["data_type"].dropna()})) if read is not None else "",
            "recurring": timers.get(key, ""),
        })
    return pd.DataFrame(rows, columns=PHASE_COLUMNS)


def _order(steps: pd.DataFrame) -> dict[tuple[str, str], dict[str, object]]:
    """(run, phase) -> its steps ("1-3, 6"), start and end, in the order phases first ran."""
    out: dict[tuple[str, str], dict[str, object]] = {}
    if steps.empty:
        return out
    for row in steps.sort_values(["run_id", "start"], kind="stable").itertuples(index=False):
        key = (row.run_id, row.phase)
        entry = out.setdefault(key, {"indices": [], "start": row.start, "end": row.end})
        entry["indices"].append(int(row.step))  # type: ignore[union-attr]
        entry["end"] = max(entry["end"], row.end)  # type: ignore[type-var]
    for entry in out.values():
        entry["steps"] = _ranges(entry.pop("indices"))  # type: ignore[arg-type]
    return out


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 6] -> `1-3, 6`."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)


def _per_destination(flows: pd.DataFrame) -> pd.DataFrame:
    """Flows, bytes, first and last start, and whether foreign, per (run, phase, destination):
    the phases are told from this (small) frame, not from every flow again."""
    cols = ["run_id", "phase", "destination", "flows", "up", "down", "first", "last", "foreign"]
    if flows.empty:
        return pd.DataFrame(columns=cols)
    f = flows[["run_id", "phase", "destination", "request_bytes", "response_bytes", "ts_start"]].assign(
        foreign=flows["flags"].astype(str).str.contains("foreign", regex=False).to_numpy(dtype=bool))
    out = f.groupby(["run_id", "phase", "destination"], sort=False).agg(
        flows=("ts_start", "size"), up=("request_bytes", "sum"), down=("response_bytes", "sum"),
        first=("ts_start", "min"), last=("ts_start", "max"), foreign=("foreign", "any")).reset_index()
    return out[cols]


def _destinations(f: pd.DataFrame, foreign: bool = False) -> str:
    """The destinations of a phase, most bytes first (the first SHOWN, then how many more)."""
    if foreign:
        f = f[f["foreign"].astype(bool)]
    if f.empty:
        return ""
    by = f.assign(_b=f["up"] + f["down"]).sort_values("_b", ascending=False, kind="stable")["destination"]
    names = [str(d) for d in by.iloc[:SHOWN]]
    more = f" (+{len(by) - SHOWN} more)" if len(by) > SHOWN else ""
    return ", ".join(names) + more


def _types(sent: pd.DataFrame | None, identifiers: bool) -> str:
    """`imei (sha256), imsi (plain)`: each data type with the encodings it was sent in."""
    if sent is None or sent.empty:
        return ""
    keep = sent["data_type"].map(is_identifier) == identifiers
    pairs = sent[keep].groupby("data_type")["encoding"].agg(lambda s: "+".join(sorted({str(e) for e in s.dropna()})))
    return ", ".join(f"{t} ({e})" if e else str(t) for t, e in sorted(pairs.items()))


def _timers(flows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(run, phase) -> `host: every 5 s +/- 0.05 s (4 of its 11 beats)`, for each timer
    with beats in the phase, most beats there first."""
    if flows.empty or "recurrence" not in flows:
        return {}
    beats = flows[flows["recurrence"].astype(str) != ""]
    if beats.empty:
        return {}
    counts = (beats.groupby(["run_id", "phase", "destination", "recurrence"], sort=False).size()
              .rename("n").reset_index().sort_values("n", ascending=False, kind="stable"))
    out: dict[tuple[str, str], list[str]] = {}
    for r in counts.itertuples(index=False):
        period, _, total = str(r.recurrence).partition(", ")
        out.setdefault((r.run_id, r.phase), []).append(
            f"{r.destination}: {period} ({r.n} of its {total.split(' ')[0]} beats)")
    return {k: "; ".join(v) for k, v in out.items()}
