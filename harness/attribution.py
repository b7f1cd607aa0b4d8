"""Which app or system component made each flow, with the method and a confidence.

In order, each method filling only what the ones before left open:

1. the producer's own `app` (the proxy or an importer knew it): kept as given;
2. a Frida `net:connect` event of the same run and device to the flow's host and port
   (high), its server IP and port (high: in contained mode the world IP), or its host on
   another port (medium), nearest in time within WINDOW seconds of the flow's start (a
   match further than NEAR seconds away is one grade less sure);
3. the app in front during the step the flow started in (a launch/monkey step of a
   package): medium if that package was seen connecting at all, else low;
4. the step's time window: a reboot step's flows are `system (boot)` (low);
5. the rest stay visible as `unattributed`.

All of it is vectorised (merge_asof), so a million flows take seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

WINDOW = 10.0
NEAR = 2.0
UNATTRIBUTED = "unattributed"
SYSTEM_BOOT = "system (boot)"


def steps_frame(runs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The step timeline of each run: run_id, step, kind, package, start, end."""
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
            rows.append({
                "run_id": run_id,
                "step": int(step["index"]) if isinstance(step.get("index"), int) else i,
                "kind": str(step.get("kind") or "?"),
                "package": package if isinstance(package, str) else None,
                "start": start,
                "end": end if end is not None else np.inf,
            })
    cols = ["run_id", "step", "kind", "package", "start", "end"]
    return pd.DataFrame(rows, columns=cols).astype({"start": float, "end": float})


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _asof(left: pd.DataFrame, right: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """For each row of left (index `_row`, time `ts_start`), the nearest right row by `by`."""
    left = left.dropna(subset=by + ["ts_start"]).sort_values("ts_start")
    right = right.dropna(subset=by + ["ts"]).sort_values("ts")
    if left.empty or right.empty:
        return pd.DataFrame(columns=["_row", "package", "_gap"])
    merged = pd.merge_asof(
        left[["_row", "ts_start", *by]], right[["ts", "package", *by]],
        left_on="ts_start", right_on="ts", by=by, direction="nearest", tolerance=WINDOW,
    )
    merged = merged.dropna(subset=["package"])
    merged["_gap"] = (merged["ts_start"] - merged["ts"]).abs()
    return merged[["_row", "package", "_gap"]]


def attribute(flows: pd.DataFrame, connects: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Fill `app`, `attribution_method`, `attribution_confidence` and `step` on `flows`.

    flows: run_id, device, ts_start, host, sni, server_ip, server_port, app,
    attribution_method, attribution_confidence. connects: run_id, device, ts, package,
    host, ip, port (net:connect events). Returns a new frame.
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

    left = pd.DataFrame({
        "_row": np.arange(n),
        "ts_start": out["ts_start"].to_numpy(dtype=float, na_value=np.nan),
        "run_id": out["run_id"].astype(object).to_numpy(),
        "device": out["device"].fillna("").astype(object).to_numpy(),
        "host": out["host"].fillna(out["sni"]).str.lower().astype(object).to_numpy(),
        "ip": out["server_ip"].astype(object).to_numpy(),
        "port": out["server_port"].astype("float64").to_numpy(),
    })
    if not connects.empty:
        right = pd.DataFrame({
            "ts": connects["ts"].astype(float).to_numpy(),
            "package": connects["package"].astype(object).to_numpy(),
            "run_id": connects["run_id"].astype(object).to_numpy(),
            "device": connects["device"].fillna("").astype(object).to_numpy(),
            "host": connects["host"].str.lower().astype(object).to_numpy(),
            "ip": connects["ip"].astype(object).to_numpy(),
            "port": connects["port"].astype("float64").to_numpy(),
        })
        right = right[right["package"].notna()]
        passes = (
            (["run_id", "device", "host", "port"], "frida_connect_host", "high"),
            (["run_id", "device", "ip", "port"], "frida_connect_ip", "high"),
            (["run_id", "device", "host"], "frida_connect_host", "medium"),
        )
        for by, how, conf in passes:
            open_rows = pd.isna(app)
            if not open_rows.any():
                break
            match = _asof(left[open_rows], right, by)
            if match.empty:
                continue
            rows = match["_row"].to_numpy(dtype=int)
            app[rows] = match["package"].to_numpy(dtype=object)
            method[rows] = how
            near = match["_gap"].to_numpy(dtype=float) <= NEAR
            confidence[rows] = np.where(near, conf, "medium" if conf == "high" else "low")

    step_no, step_kind, step_pkg = _step_of(left, steps)
    connecting = set(connects["package"].dropna().unique()) if not connects.empty else set()
    open_rows = pd.isna(app) & pd.notna(step_pkg)
    app[open_rows] = step_pkg[open_rows]
    method[open_rows] = "foreground_app"
    confidence[open_rows] = np.where(
        np.isin(step_pkg[open_rows].astype(str), list(connecting)), "medium", "low")
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
    out["step"] = pd.array(step_no, dtype="Float64").astype("Int64")
    out["step_kind"] = step_kind
    return out


def _step_of(left: pd.DataFrame, steps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(left)
    step_no = np.full(n, np.nan)
    kind = np.full(n, None, dtype=object)
    pkg = np.full(n, None, dtype=object)
    if steps.empty or n == 0:
        return step_no, kind, pkg
    l2 = left[["_row", "ts_start", "run_id"]].dropna().sort_values("ts_start")
    s2 = steps.sort_values("start")
    merged = pd.merge_asof(l2, s2, left_on="ts_start", right_on="start", by="run_id",
                           direction="backward")
    merged = merged[merged["ts_start"] <= merged["end"]]
    rows = merged["_row"].to_numpy(dtype=int)
    step_no[rows] = merged["step"].to_numpy(dtype=float)
    kind[rows] = merged["kind"].to_numpy(dtype=object)
    pkg[rows] = merged["package"].astype(object).where(merged["package"].notna(), None).to_numpy()
    return step_no, kind, pkg
