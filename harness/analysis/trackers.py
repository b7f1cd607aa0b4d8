"""Trackers and SDKs: which known SDK is behind a read or a flow.

The curated table (harness/analysis/data/trackers.csv, shipped with its sources) gives
each SDK a code signature (Java package prefixes) and a network signature (domains). A
read or a flow whose calling class (harness.analysis.stacks) starts with a code
signature is that SDK's ("code"); else a flow whose host is a signature domain, or a
name under it, is ("network"). The longest prefix or domain wins, so a specific row
(com.facebook.ads.) beats a general one (com.facebook.).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from harness.config.csv_table import csv_rows
from harness.errors import ConfigError

HEADER = ["name", "category", "code_signature", "network_signature", "source"]
SDK_COLUMNS = ["sdk", "category", "matched_by", "apps", "libraries", "destinations", "flows", "reads",
               "data_types", "source"]


@dataclass(frozen=True)
class Tracker:
    name: str
    category: str
    code: tuple[str, ...]  # Java package prefixes
    network: tuple[str, ...]  # domains
    source: str


def parse_tracker_table(text: str, origin: str = "trackers.csv") -> tuple[Tracker, ...]:
    """Rows `name,category,code_signature,network_signature,source`; `#` lines are comments."""
    out = []
    for number, row in csv_rows(text, HEADER, origin):
        name, category, code, network, source = row
        prefixes = tuple(p.strip() for p in code.split("|") if p.strip())
        domains = tuple(d.strip().lower().strip(".") for d in network.split("|") if d.strip())
        if not name or not source or not (prefixes or domains):
            raise ConfigError(f"{origin}: row {number}: a tracker needs a name, a source and a signature")
        out.append(Tracker(name, category, prefixes, domains, source))
    return tuple(out)


@functools.cache
def shipped_trackers() -> tuple[Tracker, ...]:
    text = resources.files("harness.analysis").joinpath("data/trackers.csv").read_text(encoding="utf-8")
    return parse_tracker_table(text, "harness/analysis/data/trackers.csv")


class TrackerIndex:
    """Looks up the SDK of a class name or a host name."""

    def __init__(self, trackers: Iterable[Tracker] | None = None):
        self.trackers = tuple(shipped_trackers() if trackers is None else trackers)
        self._code = sorted(((p, t) for t in self.trackers for p in t.code), key=lambda pt: -len(pt[0]))
        self._network = {d: t for t in sorted(self.trackers, key=lambda t: -len(t.network)) for d in t.network}
        self.by_name = {t.name: t for t in self.trackers}

    def of_class(self, name: str | None) -> Tracker | None:
        if not isinstance(name, str) or not name:
            return None
        for prefix, tracker in self._code:
            if name.startswith(prefix) or name + "." == prefix:
                return tracker
        return None

    def of_host(self, host: str | None) -> Tracker | None:
        if not isinstance(host, str) or not host:
            return None
        labels = host.lower().strip(".").split(".")
        for i in range(len(labels) - 1):  # the longest domain first
            tracker = self._network.get(".".join(labels[i:]))
            if tracker is not None:
                return tracker
        return None

    def names(self, classes: pd.Series, hosts: pd.Series | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(SDK name or "", "code" | "network" | "") of each row: its class, else its host."""
        sdk = _mapped(classes, self.of_class)
        how = np.where(sdk != "", "code", "")
        if hosts is not None:
            by_host = _mapped(hosts, self.of_host)
            use = (sdk == "") & (by_host != "")
            sdk = np.where(use, by_host, sdk)
            how = np.where(use, "network", how)
        return sdk.astype(object), how.astype(object)


def _mapped(values: pd.Series, find: object) -> np.ndarray:
    """`find` (class or host -> Tracker) over distinct values only: a million rows stay fast."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    names = np.array([(t.name if (t := find(u)) is not None else "") for u in uniques] + [""],  # type: ignore[operator]
                     dtype=object)
    return names[np.where(codes < 0, len(uniques), codes)]


def sdk_table(flows: pd.DataFrame, reads: pd.DataFrame, findings: pd.DataFrame,
              index: TrackerIndex) -> pd.DataFrame:
    """One row per SDK seen: how it was recognised, the apps and classes it was found in,
    the destinations it talked to, its flows and reads, the data types it read or sent."""
    parts = []
    for frame, kind in ((flows, "flow"), (reads, "read")):
        if frame.empty or "sdk" not in frame:
            continue
        hit = frame[frame["sdk"].astype(str) != ""]
        parts.append(pd.DataFrame({
            "sdk": hit["sdk"].to_numpy(dtype=object), "matched_by": hit["sdk_match"].to_numpy(dtype=object),
            "app": hit.get("app", hit.get("package")).to_numpy(dtype=object),
            "library": hit["library"].to_numpy(dtype=object),
            "destination": hit["destination"].to_numpy(dtype=object) if "destination" in hit else None,
            "data_type": hit["data_type"].to_numpy(dtype=object) if "data_type" in hit else None,
            "kind": kind}))
    if not parts:
        return pd.DataFrame(columns=SDK_COLUMNS)
    seen = pd.concat(parts, ignore_index=True)
    if not findings.empty and "sdk" in findings:
        sent = findings[findings["sdk"].astype(str) != ""][["sdk", "data_type"]].assign(kind="sent")
        seen = pd.concat([seen, sent], ignore_index=True)
    rows = []
    for name, g in seen.groupby("sdk", sort=True):
        tracker = index.by_name.get(str(name))
        rows.append({
            "sdk": name, "category": tracker.category if tracker else "",
            "matched_by": _join(g["matched_by"]), "apps": _join(g["app"]), "libraries": _join(g["library"]),
            "destinations": _join(g["destination"]), "flows": int((g["kind"] == "flow").sum()),
            "reads": int((g["kind"] == "read").sum()), "data_types": _join(g["data_type"]),
            "source": tracker.source if tracker else "",
        })
    out = pd.DataFrame(rows, columns=SDK_COLUMNS)
    return out.sort_values(["flows", "reads", "sdk"], ascending=[False, False, True]).reset_index(drop=True)


def _join(values: pd.Series) -> str:
    return ", ".join(sorted({str(v) for v in values.dropna() if str(v)}))
