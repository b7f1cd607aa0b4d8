"""Per app, the unpinning of the run beside what stayed unreadable (issue 21).

unpin.js reports each bypass it installs (`unpin:applied`) and each certificate check it
skipped (`unpin:bypassed`), both naming the library it defeated (okhttp3, conscrypt,
trustmanager, conscrypt-ct, hostname-verifier, webview, boringssl-symbol, boringssl-pattern).
The app coverage table gets, per app:

- unpin_applied: the libraries whose bypasses were installed, e.g. `conscrypt, okhttp3`;
- unpin_fired: the libraries whose bypasses skipped a check, with how often: `conscrypt x12`;
- pinned_destinations: where the app's connections went that it refused to let the proxy
  read (its TLS-rejected flows, counted in `pinned`): what unpinning did not reach.

An app with unpinning but no connection gets a row of its own.
"""

from __future__ import annotations

import pandas as pd

UNPIN_EVENTS = ("unpin:applied", "unpin:bypassed")
UNPIN_COLUMNS = ["unpin_applied", "unpin_fired", "pinned_destinations"]


def _events(hooks: pd.DataFrame) -> pd.DataFrame:
    if hooks.empty or not {"type", "library", "package"} <= set(hooks.columns):
        return pd.DataFrame(columns=["type", "library", "package"])
    events = hooks.loc[hooks["type"].isin(UNPIN_EVENTS), ["type", "library", "package"]]
    return events[events["library"].notna() & events["package"].notna()]


def _applied(events: pd.DataFrame) -> pd.Series:
    rows = events[events["type"] == "unpin:applied"]
    return rows.groupby("package")["library"].agg(lambda s: ", ".join(sorted(set(s))))


def _fired(events: pd.DataFrame) -> pd.Series:
    rows = events[events["type"] == "unpin:bypassed"]
    if rows.empty:
        return pd.Series(dtype=object)
    counts = rows.groupby(["package", "library"]).size().reset_index(name="n")
    counts["text"] = counts["library"] + " x" + counts["n"].astype(str)
    return counts.sort_values(["package", "library"]).groupby("package")["text"].agg(", ".join)


def _pinned(flows: pd.DataFrame) -> pd.Series:
    if flows.empty or "coverage" not in flows:
        return pd.Series(dtype=object)
    rows = flows.loc[flows["coverage"] == "tls_rejected", ["app", "destination"]].dropna()
    return rows.groupby("app")["destination"].agg(lambda s: ", ".join(sorted(set(s))))


def with_unpinning(coverage: pd.DataFrame, hooks: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """The app coverage table with the UNPIN_COLUMNS (rows added for apps only unpinning saw)."""
    events = _events(hooks)
    applied, fired, pinned = _applied(events), _fired(events), _pinned(flows)
    out = coverage.copy()
    missing = sorted(set(applied.index) | set(fired.index)) if len(events) else []
    missing = [app for app in missing if app not in set(out["app"])] if "app" in out else missing
    if missing:
        extra = pd.DataFrame({"app": missing})
        for col in out.columns:
            if col not in extra:
                extra[col] = float("nan") if col == "readable_percent" else 0
        extra["coverage"] = "no connection seen"
        out = pd.concat([out, extra[out.columns]], ignore_index=True) if len(out) else extra
    apps = out["app"] if "app" in out else pd.Series(dtype=object)
    out["unpin_applied"] = apps.map(applied).astype(object).fillna("")
    out["unpin_fired"] = apps.map(fired).astype(object).fillna("")
    out["pinned_destinations"] = apps.map(pinned).astype(object).fillna("")
    return out.reset_index(drop=True)
