"""The summary at the top of a report, and connections that went around the proxy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.read import RawCapture

if TYPE_CHECKING:
    from harness.analysis.model import Analysis

DEVICE_KEYS = ("serial", "manufacturer", "brand", "model", "device", "fingerprint", "android_release",
               "release", "sdk", "security_patch", "build_id", "incremental", "abi", "kernel", "rooted",
               "root_method", "frida_server_version", "frida_server")


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def iso(ts: Any) -> str:
    if ts is None or (isinstance(ts, float) and ts != ts):
        return ""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_info(raw: RawCapture) -> dict[str, Any]:
    run = raw.run
    device = run.get("device") or run.get("device_info") or {}
    if not isinstance(device, dict):
        device = {"serial": str(device)}
    profile = run.get("profile")
    if isinstance(profile, dict):
        profile_name = str(profile.get("name") or "")
    else:
        profile_name = str(profile or "")
    started = _epoch(run.get("started") or run.get("start"))
    ended = _epoch(run.get("ended") or run.get("end"))
    ts = raw.flows["ts_start"].drop_null() if raw.flows.num_rows else None
    if started is None and ts is not None and len(ts):
        started = float(pd.Series(ts.to_numpy()).min())
    if ended is None and ts is not None and len(ts):
        ended = float(pd.Series(ts.to_numpy()).max())
    return {
        "run_id": raw.run_id,
        "path": str(raw.path),
        "status": str(run.get("status") or ("incomplete" if not run else "unknown")),
        "profile": profile_name,
        "device": {k: device[k] for k in DEVICE_KEYS
                   if device.get(k) is not None and not isinstance(device[k], dict | list)},
        "started": iso(started),
        "ended": iso(ended),
        "duration_s": round(ended - started, 1) if started is not None and ended is not None else None,
        "garbled_lines": raw.flow_stats.garbled + raw.hook_stats.garbled,
    }


def summarise(a: Analysis, raws: list[RawCapture]) -> dict[str, Any]:
    flows = a.flows
    kind = flows["kind"]
    total = len(flows)
    http = int((kind == "http").sum())
    intercepted = int(flows["tls_intercepted"].astype(bool).sum())
    cleartext = int(((kind == "http") & (flows["scheme"] == "http")).sum())
    rejected = int(((kind == "tls_failed") | flows["flags"].str.contains("tls_rejected", regex=False)).sum())
    not_http = total - http - int((kind == "tls_failed").sum())
    dest = a.destinations
    foreign = dest[dest["flags"].str.contains("foreign", regex=False)]
    leaving = []
    if not a.findings.empty:
        f = a.findings
        foreign_findings = f[f["flags"].str.contains("foreign", regex=False)]
        for dtype, grp in f.groupby("data_type", sort=True):
            hosts = sorted(grp["destination"].dropna().unique())
            fhosts = sorted(foreign_findings.loc[foreign_findings["data_type"] == dtype, "destination"].unique())
            leaving.append({"data_type": str(dtype), "destinations": hosts, "foreign_destinations": fhosts,
                            "transmissions": int(grp["flow_id"].nunique())})
    return {
        "runs": a.runs,
        "counts": {
            "runs": len(raws), "flows": total, "http_flows": http, "destinations": int(len(dest)),
            "foreign_destinations": int(len(foreign)), "findings": int(len(a.findings)),
            "sensitive_reads": int(len(a.reads)), "hook_events": int(len(a.hooks)),
            "data_flows": int(len(a.data_flows)), "bypassed_connections": int(len(a.bypassed)),
            "unattributed_flows": int((flows["app"] == "unattributed").sum()),
            "garbled_lines": int(sum(r.flow_stats.garbled + r.hook_stats.garbled for r in raws)),
            "hook_errors": int((a.hooks["type"] == "hook:error").sum()) if "type" in a.hooks else 0,
            "bytes_up": int(flows["request_bytes"].sum()), "bytes_down": int(flows["response_bytes"].sum()),
        },
        "foreign_destinations": [
            {"destination": r.destination, "country": r.country, "org": r.org, "severity": r.severity}
            for r in foreign.itertuples(index=False)
        ],
        "data_types_leaving": leaving,
        "decryption": {
            "flows": total, "intercepted": intercepted, "cleartext": cleartext,
            "tls_rejected": rejected, "not_http": max(not_http, 0),
            "coverage_percent": round(100.0 * (intercepted + cleartext) / total, 1) if total else 0.0,
        },
        "attribution": {str(k): int(v) for k, v in flows["attribution_method"].value_counts().items()},
        "warnings": a.warnings,
    }
