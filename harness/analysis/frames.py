"""Captures -> pandas frames: flows, hooks, reads, findings, data flows, destinations.

`analyse([run_dir, ...], policy)` reads one or more capture folders (several runs merge,
each row keeping its `run_id`) and returns an Analysis whose frames the report writers
and the regression diff use. Everything is vectorised, so a million flows stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from harness.analysis.attribution import attribute, steps_frame
from harness.analysis.bypass import (
    bypassed_frame,
    geo_config,
    lab_policy,
    mark_connects,
    proxy_ports,
    responders,
)
from harness.analysis.dataflows import canary_index, data_flows, join_distinct, reads_frame
from harness.analysis.dns_lookups import dns_only_frame, name_raw_hosts
from harness.analysis.flow_kinds import (
    capture_mode,
    flow_kinds,
    kind_coverage,
    kinds_summary,
    protocol_labels,
    record_columns,
)
from harness.analysis.hostnames import MIXED_SCRIPT, add_flag, idn_columns
from harness.analysis.masked_texts import masked_texts
from harness.analysis.model import Analysis
from harness.analysis.read import GEO_SOURCES, RawCapture, read_capture
from harness.analysis.reading import add_reading
from harness.analysis.standards import table_for_runs
from harness.analysis.summary import coverage_classes, run_info, summarise
from harness.analysis.tunnel_leaks import tunnel_leaks
from harness.config import Policy, Severity
from harness.config.requirements import RequirementsConfig

NETWORK_EVENTS = ("net:connect", "net:request", "net:resolve")
SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}  # info 0 .. critical 4

FLOW_SCALARS = (
    "id", "ts_start", "ts_end", "device", "client_ip", "client_port", "ts_client_connect", "host", "sni", "server_ip", "server_port",
    "scheme", "method", "url", "http_version", "status", "request_bytes", "response_bytes",
    "country", "country_confidence", "org", "org_country", "app", "kind",
)


_INT_MAPPER = {pa.int64(): pd.Int64Dtype()}


# --- frames from Arrow -----------------------------------------------------------------


def _joined(arr: pa.ChunkedArray, sep: str) -> pa.ChunkedArray:
    return pc.fill_null(pc.binary_join(arr, sep), "")


def flows_frame(raw: RawCapture) -> pd.DataFrame:
    t = raw.flows
    cols: dict[str, Any] = {name: t[name] for name in FLOW_SCALARS}
    tls = t["tls"]
    cols["tls_intercepted"] = pc.fill_null(pc.struct_field(tls, "intercepted"), False)
    cols["tls_version"] = pc.struct_field(tls, "version")
    cols["tls_failure"] = pc.struct_field(tls, "failure")
    sources = t["country_sources"]
    # "overrides=CN, iptocc=CN": each present source with its separator, joined, the last
    # separator trimmed (null_handling="skip" miscounts rows in pyarrow 26 when all are null)
    parts = [pc.fill_null(pc.binary_join_element_wise(f"{s}=", pc.struct_field(sources, s), ", ", ""), "")
             for s in GEO_SOURCES]
    cols["country_sources"] = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), characters=", ")
    cols["attribution_method"] = pc.struct_field(t["attribution"], "method")
    cols["attribution_confidence"] = pc.struct_field(t["attribution"], "confidence")
    cols["flags"] = _joined(t["flags"], ",")
    cols["notes"] = _joined(t["notes"], "; ")
    cols["n_findings"] = pc.fill_null(pc.list_value_length(t["findings"]), 0)
    cols.update(record_columns(t))  # raw TCP/UDP/QUIC and DNS fields (full-device capture)
    df = pa.table(cols).to_pandas(types_mapper=_INT_MAPPER.get)
    df.insert(0, "run_id", raw.run_id)
    df = df.rename(columns={"id": "flow_id"})
    if df["flow_id"].isna().any():
        generated = pd.Series([f"{raw.run_id}#{i}" for i in range(len(df))], index=df.index)
        df["flow_id"] = df["flow_id"].fillna(generated)
    for col in ("request_bytes", "response_bytes"):
        df[col] = df[col].fillna(0).astype("int64")
    df["kind"] = df["kind"].fillna(pd.Series(np.where(df["method"].notna(), "http", "tcp"), index=df.index))
    return df


def findings_base(raw: RawCapture) -> pd.DataFrame:
    """One row per finding with `_flow` = its flow's row number in this capture."""
    arr = raw.flows["findings"].combine_chunks() if raw.flows.num_rows else pa.array([], raw.flows.schema.field("findings").type)
    flat = pc.list_flatten(arr)
    parents = pc.list_parent_indices(arr)
    df = pa.table({
        "_flow": parents,
        "finding_type": pc.struct_field(flat, "type"),
        "finding_id": pc.struct_field(flat, "id"),
        "where": pc.struct_field(flat, "where"),
        "encoding": pc.struct_field(flat, "encoding"),
        "offset": pc.struct_field(flat, "offset"),
    }).to_pandas()
    return df


def hooks_frame(raw: RawCapture) -> pd.DataFrame:
    """The hook events; `hook_id` is `RUN#hN`, N the event's place among hooks.jsonl's records."""
    df = raw.hooks.to_pandas(types_mapper=_INT_MAPPER.get)
    df.insert(0, "run_id", raw.run_id)
    df.insert(1, "hook_id", [f"{raw.run_id}#h{i}" for i in range(1, len(df) + 1)])
    return df


# --- aggregates --------------------------------------------------------------------------


def _severity(flags: pd.DataFrame, key: str, policy: Policy) -> pd.DataFrame:
    """Per key, the highest policy severity of its flags (`info` when none)."""
    ranks = {str(f): SEVERITY_RANK[str(s)] for f, s in policy.severity.items()}
    pairs = flags[[key, "flags"]].drop_duplicates()
    pairs = pairs.assign(flag=pairs["flags"].str.split(",")).explode("flag")
    pairs["rank"] = pairs["flag"].map(ranks).fillna(0).astype(int)
    best = pairs.groupby(key)["rank"].max()
    names = {v: k for k, v in SEVERITY_RANK.items()}
    return pd.DataFrame({key: best.index, "severity": best.map(names).to_numpy(),
                         "severity_rank": best.to_numpy()})


def connections_only(flows: pd.DataFrame) -> pd.DataFrame:
    """The flows that went to a destination: a DNS lookup's destination is the resolver
    asked, so lookups are left out (the names looked up have a table of their own)."""
    return flows[flows["capture_kind"] != "dns"] if "capture_kind" in flows else flows


def destinations_frame(flows: pd.DataFrame, findings: pd.DataFrame, bypassed: pd.DataFrame,
                       policy: Policy) -> pd.DataFrame:
    """One row per destination, most severe first."""
    extra = pd.DataFrame({
        "destination": bypassed["destination"], "destination_ascii": bypassed["destination_ascii"],
        "server_ip": bypassed["server_ip"].fillna(bypassed["ip"]),
        "app": bypassed["app"], "country": bypassed["country"], "org": bypassed["org"],
        "org_country": bypassed["org_country"], "flags": bypassed["flags"], "kind": "bypass",
        "ts_start": bypassed["ts"], "request_bytes": 0, "response_bytes": 0,
    })
    cols = ["destination", "destination_ascii", "server_ip", "country", "country_sources",
            "country_confidence", "org", "org_country", "app", "flags", "kind", "scheme", "coverage", "request_bytes",
            "response_bytes", "ts_start", "protocols", "sni", "dns_names"]
    connections = connections_only(flows)
    base = connections.reindex(columns=cols)
    if len(connections) and "capture_kind" in connections:
        base["protocols"] = protocol_labels(connections)
        base["sni"] = connections["sni"].fillna(connections["payload_sni"]) if "payload_sni" in connections \
            else connections["sni"]
    df = pd.concat([base, extra.reindex(columns=cols)], ignore_index=True) if len(extra) else base
    if df.empty:
        return pd.DataFrame(columns=DESTINATION_COLUMNS)
    df["flags"] = df["flags"].fillna("")
    g = df.groupby("destination", sort=False)
    kinds = df["kind"]
    df["_http"] = (kinds == "http").astype(int)
    df["_rejected"] = (df["coverage"] == "tls_rejected").astype(int)  # one class per flow
    df["_clear"] = (df["coverage"] == "cleartext").astype(int)
    df["_bypass"] = (kinds == "bypass").astype(int)
    df["_intercepted"] = (df["coverage"] == "intercepted").astype(int)
    g = df.groupby("destination", sort=False)
    out = g.agg(
        flows=("kind", "size"), requests=("_http", "sum"), bytes_up=("request_bytes", "sum"),
        bytes_down=("response_bytes", "sum"), intercepted=("_intercepted", "sum"),
        tls_rejected=("_rejected", "sum"), cleartext=("_clear", "sum"),
        bypassed=("_bypass", "sum"), first_seen=("ts_start", "min"), last_seen=("ts_start", "max"),
    ).reset_index()
    out["flows"] = out["flows"] - out["bypassed"]
    df["dns_names"] = df["dns_names"].fillna("").astype(str).str.replace(", ", ",", regex=False)
    small = df[["destination", "destination_ascii", "server_ip", "country", "country_sources",
                "country_confidence", "org", "org_country", "app", "flags", "protocols", "sni",
                "dns_names"]].drop_duplicates()
    for col, src, split in (("destination_ascii", "destination_ascii", False), ("ips", "server_ip", False),
                            ("country", "country", False),
                            ("country_sources", "country_sources", False),
                            ("country_confidence", "country_confidence", False),
                            ("org", "org", False), ("org_country", "org_country", False),
                            ("apps", "app", False), ("flags", "flags", True),
                            ("protocols", "protocols", False), ("sni", "sni", False),
                            ("dns_names", "dns_names", True)):
        out = out.merge(join_distinct(small, ["destination"], col=col, src=src, split=split,
                                      sep=", " if not split else ","),
                        how="left", on="destination")
    if not findings.empty:
        types = findings.assign(destination=findings["destination"])
        out = out.merge(join_distinct(types, ["destination"], col="data_types", src="data_type"),
                        how="left", on="destination")
    else:
        out["data_types"] = ""
    out = out.fillna({c: "" for c in ("destination_ascii", "ips", "country", "country_sources", "country_confidence", "org",
                                      "org_country", "apps", "flags", "data_types", "protocols", "sni", "dns_names")})
    out = out.merge(_severity(out, "destination", policy), how="left", on="destination")
    out["severity"] = out["severity"].fillna("info")
    out["severity_rank"] = out["severity_rank"].fillna(0).astype(int)
    out["bytes_up"] = out["bytes_up"].fillna(0).astype("int64")
    out["bytes_down"] = out["bytes_down"].fillna(0).astype("int64")
    out = out.sort_values(["severity_rank", "bytes_up", "destination"], ascending=[False, False, True],
                          kind="stable").reset_index(drop=True)
    return out[DESTINATION_COLUMNS]


DESTINATION_COLUMNS = [
    "severity", "destination", "destination_ascii", "ips", "country", "country_sources", "country_confidence", "org",
    "org_country", "apps", "protocols", "sni", "dns_names", "bytes_up", "bytes_down", "flows", "requests", "intercepted",
    "tls_rejected", "cleartext", "bypassed", "data_types", "flags", "first_seen", "last_seen",
    "severity_rank",
]


def group_frame(flows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Flows and bytes per country or organisation (for the charts). DNS lookups are left
    out: their country is the resolver's, not a destination's (they have dns_only)."""
    flows = connections_only(flows)
    label = flows[key].astype(object).where(flows[key].notna() & (flows[key].astype(str) != ""), "unknown")
    out = flows.assign(**{key: label}).groupby(key).agg(
        flows=("flow_id", "size"), bytes_up=("request_bytes", "sum"),
        bytes_down=("response_bytes", "sum")).reset_index()
    out["bytes"] = out["bytes_up"] + out["bytes_down"]
    return out.sort_values(["bytes", key], ascending=[False, True]).reset_index(drop=True)


def _idn(df: pd.DataFrame) -> pd.DataFrame:
    """Destinations in their Unicode form (`xn--` labels decoded, so both spellings of a
    host meet), the ASCII form beside an internationalised one, and `mixed_script` flagged."""
    if df.empty:
        return df.assign(destination_ascii=pd.Series(dtype=object))
    unicode_form, ascii_form, mixed = idn_columns(df["destination"])
    at = df.columns.get_loc("destination") + 1
    out = df.assign(destination=unicode_form, flags=add_flag(df["flags"], mixed, MIXED_SCRIPT))
    out.insert(at, "destination_ascii", ascii_form)
    return out


# --- the entry point -----------------------------------------------------------------------


def analyse(run_dirs: Iterable[Path | str], policy: Policy | None = None,
            requirements: RequirementsConfig | None = None, jurisdiction: str | None = None) -> Analysis:
    """Read and analyse one or more capture folders (several runs merge). `requirements`
    and `jurisdiction`: the lab's (lab.yaml), else as the runs recorded their lab."""
    policy = policy or Policy()
    raws = [read_capture(p) for p in run_dirs]
    seen: dict[str, int] = {}
    for raw in raws:  # two folders with one run id (a copy) stay apart
        n = seen.get(raw.run_id, 0)
        seen[raw.run_id] = n + 1
        if n:
            raw.run = {**raw.run, "run_id": f"{raw.run_id}~{n}"}
    flows = pd.concat([flows_frame(r) for r in raws], ignore_index=True)
    hooks = pd.concat([hooks_frame(r) for r in raws], ignore_index=True)
    kinds = hooks["type"] if "type" in hooks else pd.Series(dtype=object)
    events = hooks[kinds.isin(NETWORK_EVENTS)]
    events = mark_connects(
        events, {r.run_id: proxy_ports(r.run, r.journal) for r in raws},
        {r.run_id: responders(r.zone) for r in raws})
    steps = steps_frame({r.run_id: r.run for r in raws})
    flows = attribute(flows, events, steps)
    flows["coverage"] = coverage_classes(flows)
    flows["capture_kind"] = flow_kinds(flows)
    flows["host"], flows["notes"] = name_raw_hosts(flows, {r.run_id: r.zone for r in raws})  # raw flows by address
    flows["destination"] = (flows["host"].fillna(flows["sni"]).fillna(flows["server_ip"])
                            .fillna("(unknown)").str.lower())
    flows = _idn(flows)

    parts = []
    offset = 0
    for raw in raws:
        base = findings_base(raw)
        base["_flow"] = base["_flow"] + offset
        offset += raw.flows.num_rows
        parts.append(base)
    fb = pd.concat(parts, ignore_index=True)
    ctx = ["run_id", "flow_id", "device", "ts_start", "app", "attribution_method", "attribution_confidence",
           "library", "phase", "destination", "host",
           "server_ip", "country", "country_sources", "country_confidence", "org", "org_country", "flags"]
    findings = pd.concat([flows[ctx].iloc[fb["_flow"].to_numpy()].reset_index(drop=True),
                          fb.drop(columns="_flow")], axis=1)
    canaries = {r.run_id: r.canaries for r in raws}
    types = {rid: canary_index(c)[1] for rid, c in canaries.items()}
    data_type = findings["finding_id"].fillna(findings["finding_type"])
    findings["data_type"] = findings["finding_type"]
    for rid, mapping in types.items():
        mask = findings["run_id"] == rid
        findings.loc[mask, "data_type"] = data_type[mask].map(mapping).astype(object).fillna(
            findings.loc[mask, "finding_type"])
    findings["data_type"] = findings["data_type"].fillna("unknown")

    reads = reads_frame(hooks, canaries) if "api" in hooks else hooks.iloc[0:0]
    dflows = data_flows(findings, reads, types)
    bypassed = bypassed_frame(events, flows, {r.run_id: geo_config(r.run) for r in raws},
                              {r.run_id: lab_policy(r.run) for r in raws})
    bypassed = _idn(bypassed)
    destinations = destinations_frame(flows, findings, bypassed, policy)
    values = masked_texts(canaries.values())
    runs = [run_info(r) for r in raws]
    analysis = Analysis(
        flows=flows, hooks=hooks, reads=reads, findings=findings, data_flows=dflows,
        destinations=destinations, bypassed=bypassed, countries=group_frame(flows, "country"),
        orgs=group_frame(flows, "org"), steps=steps, runs=runs, summary={},
        canary_values=values, warnings=[w for r in raws for w in r.warnings],
    )
    modes = {r.run_id: capture_mode(r.run) for r in raws}
    analysis.kind_coverage = kind_coverage(flows, modes)
    analysis.dns_only = dns_only_frame(flows, findings, [bypassed, events], {r.run_id: r.run for r in raws}, policy)
    leaks, analysis.tunnel_check = tunnel_leaks(  # WireGuard runs: Frida's connects the proxy did not see
        events, flows, {r.run_id: r.run for r in raws}, {r.run_id: geo_config(r.run) for r in raws},
        {r.run_id: lab_policy(r.run) for r in raws})
    analysis.tunnel_leaks = _idn(leaks)
    analysis.summary = summarise(analysis, raws)
    analysis.summary["coverage_by_kind"] = kinds_summary(analysis.kind_coverage, modes)
    analysis.summary["counts"]["dns_only_names"] = int(len(analysis.dns_only))
    table, table_warnings = table_for_runs([r.run for r in raws], requirements, jurisdiction)
    analysis.warnings += table_warnings
    add_reading(analysis, policy, table)
    return analysis
