"""Data flows: each sensitive read linked to the flows that carried its value.

A read (hooks.jsonl: package, api, category, value, stack) names its value; a finding in
a flow (findings: type, id, encoding) names the canary it matched. Both meet on the
canary id from canaries.json: a read whose value equals a canary's value gets that
canary's id. A finding is linked to a read of the same canary id by the app the flow is
attributed to, on evidence (Frida, the producer, the destination), not by a guess such as
the app in front ("app+value"). Any other finding stays a row with its library "unknown
(not hooked)" and, as a lead, the apps that did read that value (`possible_readers`).

The calling library is the first stack frame outside the platform and outside the
virtual handset's stub runtime: the code that asked for the value (harness.analysis.stacks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.attribution import UNATTRIBUTED
from harness.analysis.stacks import calling_frame, frame_class

NOT_HOOKED = "unknown (not hooked)"
UNKNOWN = "unknown"

DATA_FLOW_COLUMNS = [
    "app", "library", "data_type", "canary_id", "api", "host", "server_ip", "country",
    "country_sources", "country_confidence", "org", "org_country", "encodings", "flags",
    "first_seen", "last_seen", "transmissions", "link", "possible_readers", "evidence",
]
# attribution methods that only guess (the app in front, the step, nothing): a read by the
# guessed app is not evidence that it sent the value
GUESSES = ("foreground_app", "step_window", "none")


def canary_index(canaries: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """{value: canary id} and {canary id: data type} from a canaries.json object."""
    by_value: dict[str, str] = {}
    types: dict[str, str] = {}
    identifiers = canaries.get("identifiers")
    if isinstance(identifiers, dict):
        for key, value in identifiers.items():
            types[str(key)] = str(key)
            if isinstance(value, str | int) and str(value):
                by_value[str(value)] = str(key)
    planted = canaries.get("planted")
    if isinstance(planted, list):
        for item in planted:
            if not isinstance(item, dict) or item.get("id") is None:
                continue
            cid = str(item["id"])
            types[cid] = str(item.get("type") or cid)
            value = item.get("value")
            if isinstance(value, str | int) and str(value):
                by_value[str(value)] = cid
    return by_value, types


def reads_frame(hooks: pd.DataFrame, canaries_by_run: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Sensitive reads with canary_id, data_type, frame and library columns."""
    kind = hooks["type"].fillna("hook:event")
    reads = hooks[(kind == "hook:event") & hooks["api"].notna()].copy()
    if reads.empty:
        for col in ("canary_id", "data_type", "frame", "library"):
            reads[col] = pd.Series(dtype=object)
        return reads
    reads["canary_id"] = None
    reads["data_type"] = reads["category"].astype(object)
    for run_id, canaries in canaries_by_run.items():
        by_value, types = canary_index(canaries)
        mask = reads["run_id"] == run_id
        ids = reads.loc[mask, "value"].map(by_value)
        reads.loc[mask, "canary_id"] = ids
        known = ids.notna()
        reads.loc[mask & known.reindex(reads.index, fill_value=False), "data_type"] = (
            ids[known].map(types))
    stacks = reads["stack"].map(lambda s: "\n".join(s) if s is not None else "")
    keys = reads["api"].fillna("").astype(str) + "\x00" + stacks
    frames = {}
    for key in keys.unique():
        api, _, text = key.partition("\x00")
        frames[key] = calling_frame(text.split("\n"), api)
    reads["frame"] = keys.map(frames)
    reads["library"] = reads["frame"].map(frame_class).fillna(UNKNOWN)
    reads["data_type"] = reads["data_type"].fillna(reads["canary_id"]).fillna(UNKNOWN)
    return reads


def data_flows(findings: pd.DataFrame, reads: pd.DataFrame, types_by_run: dict[str, dict[str, str]]) -> pd.DataFrame:
    """One row per (app, library, data type, API, destination): see the module doc."""
    if findings.empty:
        return pd.DataFrame(columns=DATA_FLOW_COLUMNS)
    f = findings.copy()
    f["canary_id"] = f["finding_id"].fillna(f["finding_type"])
    f["data_type"] = f["finding_type"]
    for run_id, types in types_by_run.items():
        mask = f["run_id"] == run_id
        mapped = f.loc[mask, "canary_id"].map(types)
        f.loc[mask, "data_type"] = mapped.astype(object).fillna(f.loc[mask, "data_type"])  # all-NaN: float
    f["data_type"] = f["data_type"].fillna(UNKNOWN)

    key = ["run_id", "device", "canary_id"]
    linked = reads.dropna(subset=["canary_id"])
    f["device"] = f["device"].fillna("")
    f["library"] = NOT_HOOKED
    f["api"] = ""
    f["link"] = "none"
    f["possible_readers"] = ""
    if not linked.empty:
        r = (linked.sort_values("ts").drop_duplicates(subset=key + ["package"])
             [key + ["package", "library", "api"]].copy())
        r["device"] = r["device"].fillna("")
        same = f[key + ["app"]].merge(r, how="left", left_on=key + ["app"], right_on=key + ["package"])
        evidence = ~f["attribution_method"].isin(GUESSES).to_numpy() if "attribution_method" in f else True
        linked_rows = same["package"].notna().to_numpy() & evidence
        f["library"] = np.where(linked_rows, same["library"], NOT_HOOKED)
        f["api"] = np.where(linked_rows, same["api"].fillna(""), "")
        f["link"] = np.where(linked_rows, "app+value", "none")
        # not linked: name who did read the value in this run, as a lead, not a claim
        readers = r.assign(who=r["package"].astype(str) + " (" + r["library"].astype(str) + ")")
        readers = readers.groupby(key)["who"].agg(lambda s: ", ".join(sorted(set(s)))).rename("readers")
        hint = f[key].merge(readers.reset_index(), how="left", on=key)["readers"].fillna("").to_numpy()
        f["possible_readers"] = np.where(linked_rows, "", hint)

    if "attribution_method" in f:  # a guessed sender is no sender: those rows merge
        f["app"] = f["app"].where(~f["attribution_method"].isin(GUESSES), UNATTRIBUTED)
    group = ["app", "library", "data_type", "canary_id", "api", "host", "server_ip", "country",
             "country_sources", "country_confidence", "org", "org_country", "possible_readers"]
    for col in group:
        f[col] = f[col].astype(object).where(f[col].notna(), "")
    g = f.groupby(group, sort=False, dropna=False)
    f["_g"] = g.ngroup()
    out = g.agg(first_seen=("ts_start", "min"), last_seen=("ts_start", "max"),
                transmissions=("flow_id", "nunique")).reset_index()
    out["_g"] = np.arange(len(out))  # sort=False: groups in order of appearance, as ngroup
    for col, kw in (("encodings", {"src": "encoding"}), ("flags", {"src": "flags", "split": True}),
                    ("link", {"src": "link"}), ("evidence", {"src": "flow_id", "sep": " "})):
        out = out.merge(join_distinct(f, ["_g"], col=col, **kw), how="left", on="_g")
        out[col] = out[col].fillna("")
    out = out.sort_values(["transmissions", "app"], ascending=[False, True], kind="stable")
    return out[DATA_FLOW_COLUMNS].reset_index(drop=True)


def join_distinct(f: pd.DataFrame, group: list[str], *, col: str, src: str, split: bool = False,
            sep: str = ",") -> pd.DataFrame:
    """Per group, the sorted distinct values of `src`, joined, in a column `col`."""
    pairs = f[group + [src]].drop_duplicates()
    values = pairs[src].astype(object).where(pairs[src].notna(), "")
    pairs = pairs.assign(**{src: values})
    if split:
        pairs = pairs.assign(**{src: pairs[src].str.split(",")}).explode(src)
    pairs = pairs[pairs[src].astype(str) != ""].drop_duplicates()
    joined = pairs.groupby(group, sort=False, dropna=False)[src].agg(
        lambda s: sep.join(sorted(map(str, s))))
    return joined.rename(col).reset_index()
