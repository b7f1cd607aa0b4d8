"""What kind of traffic each flow is, and what the capture could see of each kind.

Full-device capture (WireGuard mode, issue 20) records DNS lookups, raw TCP, UDP and
QUIC besides HTTP; an explicit proxy sees only what apps send to it. The coverage by
kind says both: per kind (and per app) the flows and bytes, and for a kind the capture
mode cannot see, `not captured (explicit proxy)` instead of a 0 that would read as
"none sent". The kinds, each flow in the first that fits:

- pinned: the client refused the proxy's certificate (tls_rejected);
- dns: a DNS lookup;
- http3: HTTP/3 the proxy read (QUIC intercepted);
- http: HTTP/1 or HTTP/2 the proxy read (TLS decrypted, or cleartext);
- quic: QUIC the proxy passed on unread (or blocked), named by its SNI;
- udp, tcp: other UDP or TCP (push channels, beacons, TLS not intercepted);
- failed: a connection that failed before anything was read (a refused CONNECT, an
  upstream TLS handshake that failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("http", "http3", "pinned", "dns", "tcp", "udp", "quic", "failed")
LABELS = {
    "http": "HTTP intercepted", "http3": "HTTP/3", "pinned": "pinned (TLS rejected)", "dns": "DNS",
    "tcp": "TCP (not HTTP)", "udp": "UDP", "quic": "QUIC (not intercepted)", "failed": "failed before anything was read",
}
# what an explicit proxy cannot see: only a full-device capture records these
FULL_CAPTURE_ONLY = frozenset({"dns", "tcp", "udp", "quic", "http3"})
FULL, EXPLICIT, UNKNOWN = "wireguard", "explicit", "unknown"
ALL_APPS = "(all)"
NOT_CAPTURED = "not captured (explicit proxy)"
KIND_COVERAGE_COLUMNS = ["app", "kind", "label", "flows", "bytes_up", "bytes_down", "destinations", "status"]


# --- the raw and DNS fields of the flow records, as frame columns --------------------------


def _joined(arr: Any, sep: str = ", ") -> Any:
    return pc.fill_null(pc.binary_join(arr, sep), "")


def record_columns(t: pa.Table) -> dict[str, Any]:
    """protocol, transport, payload_sni, dns_names (joined), and the DNS record's name,
    type, answers (their data, joined), rcode and resolver."""
    dns = t["dns"].combine_chunks() if t.num_rows else pa.array([], t.schema.field("dns").type)
    answers = pc.struct_field(dns, "answers")
    data = pc.struct_field(pc.list_flatten(answers), "data")
    offsets = answers.offsets if len(answers) else pa.array([0], pa.int32())
    answer_data = pa.ListArray.from_arrays(offsets, data, mask=answers.is_null()) if len(answers) else \
        pa.array([], pa.list_(pa.string()))
    return {
        "protocol": t["protocol"], "transport": t["transport"], "payload_sni": t["payload_sni"],
        "dns_names": _joined(t["dns_names"]),
        "dns_name": pc.struct_field(dns, "name"), "dns_type": pc.struct_field(dns, "type"),
        "dns_answers": _joined(answer_data), "dns_rcode": pc.struct_field(dns, "rcode"),
        "dns_resolver": pc.struct_field(dns, "resolver"),
    }


# --- each flow's kind -------------------------------------------------------------------


def _text(flows: pd.DataFrame, col: str) -> pd.Series:
    if col not in flows:
        return pd.Series("", index=flows.index, dtype=object)
    return flows[col].astype(object).where(flows[col].notna(), "").astype(str)


def flow_kinds(flows: pd.DataFrame) -> np.ndarray:
    """Each flow's kind (see the module doc)."""
    if flows.empty:
        return np.array([], dtype=object)
    kind, method = _text(flows, "kind"), _text(flows, "method")
    version = _text(flows, "http_version").str.upper()
    coverage = _text(flows, "coverage")
    request = (method != "") & (method != "CONNECT")
    conditions = [
        (coverage == "tls_rejected").to_numpy(),
        (kind == "dns").to_numpy(),
        (version.str.startswith("HTTP/3") & request).to_numpy(),
        ((kind == "http") | request).to_numpy(),
        (kind == "quic").to_numpy(),
        (kind == "udp").to_numpy(),
        (kind == "tcp").to_numpy(),
    ]
    return np.select(conditions, ["pinned", "dns", "http3", "http", "quic", "udp", "tcp"],
                     default="failed").astype(object)


def protocol_labels(flows: pd.DataFrame) -> pd.Series:
    """What a destination was talked to over: `http`, `http3`, `tcp/xmpp`, `udp`, `quic`, ..."""
    kinds = pd.Series(flows["capture_kind"].to_numpy(), index=flows.index, dtype=object)
    protocol = _text(flows, "protocol")
    transport = _text(flows, "transport")
    raw = kinds.isin(["tcp", "udp"])
    base = transport.where(transport != "", kinds)
    guessed = raw & (protocol != "") & (protocol != base)
    return kinds.where(~raw, base.where(~guessed, base + "/" + protocol))


# --- the capture mode of each run --------------------------------------------------------------


def capture_mode(run: Mapping[str, Any]) -> str:
    """`wireguard` or `explicit` as run.json's proxy (or lab snapshot) records it, else `unknown`."""
    proxy = run.get("proxy")
    lab = run.get("lab")
    lab_proxy = lab.get("proxy") if isinstance(lab, dict) else None
    for source in (proxy, lab_proxy):
        mode = source.get("mode") if isinstance(source, dict) else None
        if mode in (FULL, EXPLICIT):
            return str(mode)
    return UNKNOWN


def _status(kind: str, flows: int, modes: set[str]) -> str:
    if kind not in FULL_CAPTURE_ONLY or modes == {FULL}:
        return "captured"
    if FULL in modes:
        return "captured (in the full-capture runs only)"
    if EXPLICIT in modes and not flows:
        return NOT_CAPTURED if modes == {EXPLICIT} else "not captured (explicit proxy or unknown mode)"
    if EXPLICIT in modes:
        return "captured only what was sent through the proxy (explicit proxy)"
    return "captured" if flows else "none recorded (capture mode unknown)"


def kind_coverage(flows: pd.DataFrame, modes: Mapping[str, str]) -> pd.DataFrame:
    """Flows, bytes and destinations per kind: all apps first (every kind), then per app
    (the kinds it used). `modes`: run id -> capture mode (capture_mode)."""
    mode_set = set(modes.values()) or {UNKNOWN}
    f = pd.DataFrame({
        "app": _text(flows, "app").replace("", "unattributed").to_numpy(),
        "kind": flows["capture_kind"].to_numpy() if len(flows) else np.array([], dtype=object),
        "up": flows["request_bytes"].to_numpy(dtype=np.int64) if len(flows) else np.array([], np.int64),
        "down": flows["response_bytes"].to_numpy(dtype=np.int64) if len(flows) else np.array([], np.int64),
        "destination": _text(flows, "destination").to_numpy(),
    })
    totals = f.groupby("kind").agg(flows=("kind", "size"), bytes_up=("up", "sum"), bytes_down=("down", "sum"),
                                   destinations=("destination", "nunique"))
    rows = []
    for kind in KINDS:
        n = int(totals.at[kind, "flows"]) if kind in totals.index else 0
        if kind == "failed" and not n:
            continue
        status = _status(kind, n, mode_set)
        blind = status.startswith("not captured")
        rows.append({"app": ALL_APPS, "kind": kind, "label": LABELS[kind],
                     "flows": None if blind else n,
                     "bytes_up": None if blind else int(totals.at[kind, "bytes_up"]) if n else 0,
                     "bytes_down": None if blind else int(totals.at[kind, "bytes_down"]) if n else 0,
                     "destinations": None if blind else int(totals.at[kind, "destinations"]) if n else 0,
                     "status": status})
    per_app = f.groupby(["app", "kind"]).agg(flows=("kind", "size"), bytes_up=("up", "sum"),
                                             bytes_down=("down", "sum"),
                                             destinations=("destination", "nunique")).reset_index()
    order = {k: i for i, k in enumerate(KINDS)}
    per_app = per_app.assign(_o=per_app["kind"].map(order)).sort_values(["app", "_o"], kind="stable")
    for r in per_app.itertuples(index=False):
        rows.append({"app": r.app, "kind": r.kind, "label": LABELS[r.kind], "flows": int(r.flows),
                     "bytes_up": int(r.bytes_up), "bytes_down": int(r.bytes_down),
                     "destinations": int(r.destinations), "status": _status(r.kind, int(r.flows), mode_set)})
    out = pd.DataFrame(rows, columns=KIND_COVERAGE_COLUMNS)
    for col in ("flows", "bytes_up", "bytes_down", "destinations"):
        out[col] = out[col].astype("Int64")
    return out


def kinds_summary(table: pd.DataFrame, modes: Mapping[str, str]) -> dict[str, Any]:
    """The report summary's `coverage_by_kind`: the capture modes, and per kind its flows,
    bytes and status (flows None: not captured)."""
    kinds = {}
    for r in table[table["app"] == ALL_APPS].itertuples(index=False):
        kinds[r.kind] = {"label": r.label, "status": r.status,
                         **{k: (None if pd.isna(getattr(r, k)) else int(getattr(r, k)))
                            for k in ("flows", "bytes_up", "bytes_down", "destinations")}}
    return {"capture_modes": sorted(set(modes.values())), "kinds": kinds}
