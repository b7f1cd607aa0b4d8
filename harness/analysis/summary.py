"""The summary at the top of a report, and connections that went around the proxy or the tunnel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from harness.analysis.hostnames import MIXED_SCRIPT, scripts_of
from harness.analysis.read import RawCapture
from harness.analysis.tunnel_leaks import check_line

if TYPE_CHECKING:
    from harness.analysis.model import Analysis

DEVICE_KEYS = ("serial", "manufacturer", "brand", "model", "device", "fingerprint", "android_release",
               "release", "sdk", "security_patch", "build_id", "incremental", "abi", "kernel", "rooted",
               "root_method", "frida_server_version", "frida_server")


# Decryption coverage: every flow in exactly one class, the first that fits, so the
# classes add up to the flow count (readable = intercepted + cleartext).
COVERAGE_CLASSES = ("tls_rejected", "intercepted", "cleartext", "failed", "not_http")
READABLE = ("intercepted", "cleartext")


def _strings(series: pd.Series) -> pa.Array:
    arr = pa.array(series, from_pandas=True)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def _true(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool)


def coverage_classes(flows: pd.DataFrame) -> np.ndarray:
    """Each flow's coverage class, the first of these that fits:

    - tls_rejected: the client refused the proxy's certificate (pinning?): nothing read.
      Only the client's side: a handshake that failed upstream (the lab's server side,
      tls.failure side `server`) is `failed`;
    - intercepted: TLS the proxy decrypted, or an HTTPS request read elsewhere (an
      imported HAR or flow file), whether or not an answer came;
    - cleartext: read without TLS: plain HTTP, a DNS lookup, or raw TCP/UDP with the
      `cleartext` flag whose payload is not TLS or QUIC;
    - failed: an error before anything was read (a refused CONNECT, a dead upstream, an
      upstream TLS handshake that failed);
    - not_http: other traffic the proxy passed on unread (raw TCP/UDP it could not decrypt).
    """
    if flows.empty:
        return np.array([], dtype=object)
    kind, flags = _strings(flows["kind"]), _strings(flows["flags"])
    scheme, method = pc.utf8_lower(_strings(flows["scheme"])), _strings(flows["method"])
    request = _true(pc.not_equal(method, "CONNECT"))  # null (no request) is not one
    tls = flows["tls_intercepted"].fillna(False).to_numpy(dtype=bool)
    # raw TLS or QUIC passed on: unread, whatever its flags (older captures flagged it `cleartext`)
    opaque = _true(pc.equal(kind, "quic")) | _true(pc.is_in(_strings(flows["protocol"]), pa.array(["tls", "quic"]))) \
        if "protocol" in flows else _true(pc.equal(kind, "quic"))
    tls_failed = _true(pc.equal(kind, "tls_failed"))
    conditions = [
        (tls_failed & _client_side(flows)) | _true(pc.match_substring_regex(flags, _flag("tls_rejected"))),
        tls | (request & _true(pc.equal(scheme, "https"))),
        (_true(pc.match_substring_regex(flags, _flag("cleartext"))) & ~opaque)
        | (request & _true(pc.equal(scheme, "http"))) | _true(pc.equal(kind, "dns")),  # DNS is read in clear
        _true(pc.equal(kind, "error")) | tls_failed,
    ]
    return np.select(conditions, list(COVERAGE_CLASSES[:4]), default=COVERAGE_CLASSES[4]).astype(object)


# tls.failure as addons/flowlog.py records it (read as JSON text: {"error": .., "side": .., "sni": ..}),
# or a plain reason: the client's side says it refused; an upstream failure says so
_CLIENT_SIDE = r'"side":\s*"client"|^client rejected'
_UPSTREAM = r'"side":\s*"server"|^upstream TLS handshake failed'


def _client_side(flows: pd.DataFrame) -> np.ndarray:
    """A failed TLS handshake the client refused (not the lab's upstream side): its tls.failure
    says side `client`, or names no side and no upstream failure (older records)."""
    if "tls_failure" not in flows:
        return np.ones(len(flows), dtype=bool)
    failure = _strings(flows["tls_failure"])
    client = _true(pc.match_substring_regex(failure, _CLIENT_SIDE))
    upstream = _true(pc.match_substring_regex(failure, _UPSTREAM))
    return client | ~upstream


def _flag(name: str) -> str:
    return rf"(?:^|,){name}(?:,|$)"


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
    # an imported capture's manifest times the import; its flows say when they happened
    imported = run.get("status") == "imported"
    started = None if imported else _epoch(run.get("started") or run.get("start"))
    ended = None if imported else _epoch(run.get("ended") or run.get("end"))
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
    total = len(flows)
    http = int((flows["kind"] == "http").sum())
    classes = flows["coverage"].value_counts() if "coverage" in flows else pd.Series(dtype=int)
    coverage = {c: int(classes.get(c, 0)) for c in COVERAGE_CLASSES}
    readable = sum(coverage[c] for c in READABLE)
    dest = a.destinations
    foreign = dest[dest["flags"].str.contains("foreign", regex=False)]
    mixed = dest[dest["flags"].str.contains(MIXED_SCRIPT, regex=False)]
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
            "tunnel_leaks": int(len(a.tunnel_leaks)),
            "unattributed_flows": int((flows["app"] == "unattributed").sum()),
            "garbled_lines": int(sum(r.flow_stats.garbled + r.hook_stats.garbled for r in raws)),
            "hook_errors": int((a.hooks["type"] == "hook:error").sum()) if "type" in a.hooks else 0,
            "bytes_up": int(flows["request_bytes"].sum()), "bytes_down": int(flows["response_bytes"].sum()),
        },
        "foreign_destinations": [
            {"destination": r.destination, "country": r.country, "org": r.org, "severity": r.severity}
            for r in foreign.itertuples(index=False)
        ],
        "mixed_script_destinations": [  # look-alikes: `аррӏе.com` is Cyrillic, not `apple.com`
            {"destination": r.destination, "destination_ascii": r.destination_ascii,
             "scripts": sorted(s.lower() for s in scripts_of(r.destination))}
            for r in mixed.itertuples(index=False)
        ],
        "data_types_leaving": leaving,
        "decryption": {
            "flows": total, **{c: coverage[c] for c in READABLE},
            **{c: coverage[c] for c in COVERAGE_CLASSES if c not in READABLE},
            "coverage_percent": round(100.0 * readable / total, 1) if total else 0.0,
        },
        "attribution": {str(k): int(v) for k, v in flows["attribution_method"].value_counts().items()},
        # WireGuard mode's cross-check of Frida's connects against the proxy's flows, else None
        "tunnel_check": {**a.tunnel_check, "line": check_line(a.tunnel_check)} if a.tunnel_check else None,
        "warnings": a.warnings,
    }
