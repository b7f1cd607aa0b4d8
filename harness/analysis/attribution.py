"""Which app or system component made each flow, with the method and a confidence.

In order, each method filling only what the ones before left open:

1. the producer's own `app` (the proxy or an importer knew it): kept as given;
2. a Frida network event of the same run and device naming the flow's destination,
   nearest in time within WINDOW seconds of the flow's start (a match further than NEAR
   seconds away is one grade less sure): a `net:connect` to its host and port, or to its
   server IP and port, then any `net:connect`/`net:request`/`net:resolve` of its host;
   last, the app that connected to the proxy itself within PROXY_WINDOW seconds (low);
3. the one app Frida saw talking to the flow's host elsewhere in the run (medium if seen
   at least twice, else low);
4. the app in front during the step the flow started in (a launch/monkey step of a
   package): low, as unhooked firmware services talk while an app is in front too;
5. the step's time window: a reboot step's flows are `system (boot)` (low);
6. the rest stay visible as `unattributed`.

All of it is vectorised (merge_asof), so a million flows take seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from harness.analysis.stacks import NETWORK_PREFIXES, libraries

WINDOW = 10.0
NEAR = 2.0
PROXY_WINDOW = 1.0
HOST_METHODS = {"net:connect": "frida_connect_host", "net:request": "frida_request_host",
                "net:resolve": "frida_resolve_host"}
ECHO = 0.05
UNATTRIBUTED = "unattributed"
SYSTEM_BOOT = "system (boot)"


def steps_frame(runs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The step timeline of each run: run_id, step, kind, package, phase, start, end.

    A step's phase is its timeline entry's `phase` (a profile names the scenario a step
    belongs to: first start, SIM insertion, idle, ...), else its kind."""
    rows = []
    for run_id, run in runs.items():
        steps = run.get("steps") or run.get("timeline") or []
        if not isinstance(steps, list):
            continue
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            start, end = _num(step.get("start")), _num(step.get("end"))
            if start is None:
                continue
            package = step.get("package")
            kind = str(step.get("kind") or "?")
            phase = step.get("phase")
            rows.append({
                "run_id": run_id,
                "step": int(step["index"]) if isinstance(step.get("index"), int) else i,
                "kind": kind,
                "package": package if isinstance(package, str) else None,
                "phase": phase.strip() if isinstance(phase, str) and phase.strip() else kind,
                "start": start,
                "end": end if end is not None else np.inf,
            })
    cols = ["run_id", "step", "kind", "package", "phase", "start", "end"]
    return pd.DataFrame(rows, columns=cols).astype({"start": float, "end": float})


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of two columns over one shared vocabulary (-1 for missing)."""
    arrays = []
    for side in (left, right):
        arr = pa.array(side, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arrays.append(pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr)
    both = pa.concat_arrays(arrays)
    codes = pc.fill_null(pc.dictionary_encode(both).indices, -1).to_numpy(zero_copy_only=False)
    codes = codes.astype(np.int64)
    return codes[: len(left)], codes[len(left):]


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    """One integer key per row from several code columns; -1 where any part is missing."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    missing = np.zeros(len(parts[0]), dtype=bool)
    for part in parts:
        missing |= part < 0
        key, _ = pd.factorize(key * (int(part.max(initial=0)) + 2) + (part + 1))
        key = key.astype(np.int64)
    key[missing] = -1
    return key


def _asof(left_ts: np.ndarray, left_key: np.ndarray, rows: np.ndarray, right_ts: np.ndarray,
          right_key: np.ndarray, package: np.ndarray, kind: np.ndarray, window: float,
          one_to_one: bool = False) -> pd.DataFrame:
    """For each open row, the event with the same key nearest in time (within `window`).

    one_to_one: the event must come first, and each event explains one flow only (the
    first after it): a connect() to the proxy is one connection, not every flow near it.
    """
    lmask = (left_key[rows] >= 0) & ~np.isnan(left_ts[rows])
    rmask = (right_key >= 0) & ~np.isnan(right_ts)
    if not lmask.any() or not rmask.any():
        return pd.DataFrame(columns=["_row", "package", "_gap", "type", "_eid"])
    left = pd.DataFrame({"_row": rows[lmask], "ts_start": left_ts[rows][lmask], "k": left_key[rows][lmask]})
    right = pd.DataFrame({"ts": right_ts[rmask], "k": right_key[rmask], "package": package[rmask],
                          "type": kind[rmask], "_eid": np.flatnonzero(rmask)})
    merged = pd.merge_asof(left.sort_values("ts_start"), right.sort_values("ts"), left_on="ts_start",
                           right_on="ts", by="k", direction="backward" if one_to_one else "nearest",
                           tolerance=window)
    merged = merged.dropna(subset=["package"])
    merged["_gap"] = (merged["ts_start"] - merged["ts"]).abs()
    if one_to_one:
        merged = merged.sort_values("_gap", kind="stable").drop_duplicates(subset=["_eid"])
    return merged[["_row", "package", "_gap", "type", "_eid"]]


def attribute(flows: pd.DataFrame, events: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Fill `app`, `attribution_method`, `attribution_confidence`, `library` (the code
    that opened the connection, from the matched network event's Java stack), `step`,
    `step_kind` and `phase` on `flows`.

    flows: run_id, device, ts_start, host, sni, server_ip, server_port, app,
    attribution_method, attribution_confidence. events: the Frida network events (run_id,
    device, ts, type, package, host, ip, port, to_proxy). Returns a new frame.
    """
    out = flows.copy()
    n = len(out)
    app = out["app"].astype(object).where(out["app"].notna() & (out["app"].astype(str) != ""), None)
    method = pd.Series(np.where(app.notna(), out["attribution_method"].fillna("producer"), None),
                       index=out.index, dtype=object)
    confidence = pd.Series(np.where(app.notna(), out["attribution_confidence"].fillna("medium"), None),
                           index=out.index, dtype=object)
    app = app.to_numpy(dtype=object, copy=True)
    method = method.to_numpy(dtype=object, copy=True)
    confidence = confidence.to_numpy(dtype=object, copy=True)

    frida = np.zeros(n, dtype=bool)
    event_of = np.full(n, -1, dtype=np.int64)  # the network event that named each flow's app
    ts = out["ts_start"].to_numpy(dtype=float, na_value=np.nan)
    left = pd.DataFrame({"_row": np.arange(n), "ts_start": ts, "run_id": out["run_id"].astype(object).to_numpy()})
    events = events[events["package"].notna()] if not events.empty else events
    if not events.empty:
        c = events
        kind = c["type"].fillna("net:connect").astype(object).to_numpy()
        is_connect = kind == "net:connect"
        to_proxy = (c["to_proxy"].fillna(False).to_numpy(dtype=bool) if "to_proxy" in c
                    else np.zeros(len(c), dtype=bool))
        to_proxy = to_proxy & ~_echoes(c)
        run = _codes(out["run_id"], c["run_id"])
        dev = _codes(out["device"].fillna(""), c["device"].fillna(""))
        host = _codes(out["host"].fillna(out["sni"]).str.lower(), c["host"].str.lower())
        ip = _codes(out["server_ip"], c["ip"])
        port = _codes(out["server_port"], c["port"])
        only = np.full(len(c), -1, dtype=np.int64)
        proxy_key = (np.zeros(n, dtype=np.int64), np.where(to_proxy, 0, -1).astype(np.int64))
        connect_port = (port[0], np.where(is_connect, port[1], only))
        passes = (  # (key parts, method or None: by event type, confidence, window)
            ((run, dev, host, connect_port), None, "high", WINDOW),
            ((run, dev, ip, connect_port), "frida_connect_ip", "high", WINDOW),
            ((run, dev, host), None, "high", WINDOW),
            ((run, dev, proxy_key), "frida_proxy_connect_time", "low", PROXY_WINDOW),
        )
        right_ts = c["ts"].to_numpy(dtype=float, na_value=np.nan)
        package = c["package"].astype(object).to_numpy()
        for parts, how, conf, window in passes:
            open_rows = np.flatnonzero(pd.isna(app))
            if not len(open_rows):
                break
            keys = _combine([np.concatenate([lc, rc]) for lc, rc in parts])
            by_time = window == PROXY_WINDOW
            if by_time:  # a connect() to the proxy is one client connection: its first flow
                conn, first = _connections(out, open_rows)
                match = _asof(_connect_times(out, ts), keys[:n], first, right_ts, keys[n:], package, kind,
                              window, one_to_one=True)
                match = _spread(match, conn, open_rows)
            else:
                match = _asof(ts, keys[:n], open_rows, right_ts, keys[n:], package, kind, window)
            if match.empty:
                continue
            rows = match["_row"].to_numpy(dtype=int)
            app[rows] = match["package"].to_numpy(dtype=object)
            event_of[rows] = match["_eid"].to_numpy(dtype=np.int64)
            if how is None:
                method[rows] = match["type"].map(HOST_METHODS).fillna("frida_connect_host").to_numpy()
            else:
                method[rows] = how
            frida[rows] = True
            near = match["_gap"].to_numpy(dtype=float) <= NEAR
            confidence[rows] = np.where(near, conf, "medium" if conf == "high" else "low")

    library = _opening_library(events, event_of)
    _same_destination(out, frida, app, method, confidence)
    step_no, step_kind, step_pkg, step_phase = _step_of(left, steps)
    open_rows = pd.isna(app) & pd.notna(step_pkg)
    app[open_rows] = step_pkg[open_rows]
    method[open_rows] = "foreground_app"
    confidence[open_rows] = "low"  # firmware services talk while an app is in front, too
    open_rows = pd.isna(app) & (step_kind == "reboot")
    app[open_rows] = SYSTEM_BOOT
    method[open_rows] = "step_window"
    confidence[open_rows] = "low"
    open_rows = pd.isna(app)
    app[open_rows] = UNATTRIBUTED
    method[open_rows] = "none"
    confidence[open_rows] = "none"

    out["app"] = app
    out["attribution_method"] = method
    out["attribution_confidence"] = confidence
    out["library"] = library
    out["step"] = pd.array(step_no, dtype="Float64").astype("Int64")
    out["step_kind"] = step_kind
    out["phase"] = step_phase
    return out


def _connect_times(flows: pd.DataFrame, ts: np.ndarray) -> np.ndarray:
    """When each flow's client connection reached the proxy (`ts_client_connect`), else its
    start: an HTTPS request starts only after CONNECT and two TLS handshakes, which on a
    loaded machine can be seconds after the app's connect()."""
    if "ts_client_connect" not in flows:
        return ts
    accepted = flows["ts_client_connect"].to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(accepted), ts, accepted)


def _connections(flows: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the given rows: a client-connection number each (run, device, client port and
    accept time; a flow without them is a connection of its own), and the first row of each."""
    if not len(rows):
        return np.array([], dtype=np.int64), rows
    cols = ["run_id", "device", "client_port", "ts_client_connect"]
    frame = pd.DataFrame({c: (flows[c].to_numpy(dtype=object)[rows] if c in flows else None) for c in cols})
    known = frame["client_port"].notna() & frame["ts_client_connect"].notna()
    frame.loc[~known, "client_port"] = -1 - np.arange(int((~known).sum()))  # a connection each
    conn = frame.fillna("").astype(str).groupby(cols, sort=False).ngroup().to_numpy(dtype=np.int64)
    _, first = np.unique(conn, return_index=True)
    return conn, rows[first]


def _spread(match: pd.DataFrame, conn: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """A match of a connection's first flow, given to every open flow of that connection."""
    if match.empty:
        return match
    members = pd.DataFrame({"_row": rows, "_conn": conn})
    by_conn = match.merge(members, on="_row", how="inner").drop(columns="_row")
    return members.merge(by_conn, on="_conn", how="inner")[["_row", "package", "_gap", "type", "_eid"]]


def _opening_library(events: pd.DataFrame, event_of: np.ndarray) -> np.ndarray:
    """The calling class of each flow's network event (its Java stack, HTTP clients passed
    over), or None where no event named the flow or its stack shows no app code."""
    library = np.full(len(event_of), None, dtype=object)
    matched = event_of >= 0
    if not matched.any() or "stack" not in events:
        return library
    used = np.unique(event_of[matched])
    apis = events["api"].to_numpy(dtype=object)[used] if "api" in events else [None] * len(used)
    names = libraries(apis, events["stack"].to_numpy(dtype=object)[used], NETWORK_PREFIXES)
    by_event = dict(zip(used.tolist(), names.tolist(), strict=True))
    library[matched] = [by_event[e] for e in event_of[matched].tolist()]
    return library


def _same_destination(flows: pd.DataFrame, seen: np.ndarray, app: np.ndarray, method: np.ndarray,
                      confidence: np.ndarray) -> None:
    """Open flows to a host that, in the same run, only one app was seen (by Frida) talking to."""
    open_rows = pd.isna(app)
    if not open_rows.any() or not seen.any():
        return
    host = flows["host"].fillna(flows["sni"]).fillna(flows["server_ip"]).str.lower()
    run = flows["run_id"]
    known = pd.DataFrame({"run": run[seen].to_numpy(), "host": host[seen].to_numpy(), "app": app[seen]}).dropna()
    per = known.groupby(["run", "host"]).agg(apps=("app", "nunique"), app=("app", "first"), n=("app", "size"))
    per = per[per["apps"] == 1].reset_index()
    if per.empty:
        return
    todo = pd.DataFrame({"_row": np.flatnonzero(open_rows), "run": run[open_rows].to_numpy(),
                         "host": host[open_rows].to_numpy()})
    hit = todo.merge(per, how="inner", on=["run", "host"])
    rows = hit["_row"].to_numpy(dtype=int)
    app[rows] = hit["app"].to_numpy(dtype=object)
    method[rows] = "same_destination"
    confidence[rows] = np.where(hit["n"].to_numpy() >= 2, "medium", "low")


def _echoes(events: pd.DataFrame) -> np.ndarray:
    """Events repeating the one just before (same app and address within ECHO seconds): one
    connect() is seen by both the Java and the libc hook."""
    ts = events["ts"].to_numpy(dtype=float, na_value=np.nan)
    ip = pd.factorize(events["ip"].astype(object))[0]
    pkg = pd.factorize(events["package"].astype(object))[0]
    order = np.lexsort((ts, ip, pkg))
    same = (pkg[order][1:] == pkg[order][:-1]) & (ip[order][1:] == ip[order][:-1]) & (ip[order][1:] >= 0)
    echo = np.zeros(len(events), dtype=bool)
    echo[order[1:]] = same & (np.diff(ts[order]) <= ECHO)
    return echo


def _step_of(left: pd.DataFrame, steps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(left)
    step_no = np.full(n, np.nan)
    kind = np.full(n, None, dtype=object)
    pkg = np.full(n, None, dtype=object)
    phase = np.full(n, None, dtype=object)
    if steps.empty or n == 0:
        return step_no, kind, pkg, phase
    l2 = left[["_row", "ts_start", "run_id"]].dropna().sort_values("ts_start")
    s2 = steps.sort_values("start")
    merged = pd.merge_asof(l2, s2, left_on="ts_start", right_on="start", by="run_id",
                           direction="backward")
    merged = merged[merged["ts_start"] <= merged["end"]]
    rows = merged["_row"].to_numpy(dtype=int)
    step_no[rows] = merged["step"].to_numpy(dtype=float)
    kind[rows] = merged["kind"].to_numpy(dtype=object)
    pkg[rows] = merged["package"].astype(object).where(merged["package"].notna(), None).to_numpy()
    phase[rows] = merged["phase"].to_numpy(dtype=object)
    return step_no, kind, pkg, phase
