"""Baseline vs new captures: what changed in where the phone sends data and what it sends.

    result = diff_captures([baseline_dir, ...], [new_dir, ...], policy)
    result.exit_code      # 0 no regression, 1 regression (input errors raise CaptureError: 2)

A capture whose run did not complete (a step failed, interrupted, killed) is refused
unless allow_partial=True; `result.incomplete` then names it (diff/completeness.py).

Destinations are matched robustly, so run-to-run noise is not news (diff/sides.py keys
each side: numbered shards folded, an IP known only by its organisation). Which changes
are regressions is lab.yaml's policy.regression (harness.config.RegressionPolicy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis import Analysis, analyse
from harness.capture import FLOWS_JSONL, RUN_JSON
from harness.config import Policy
from harness.diff.capture_modes import mode_change
from harness.diff.completeness import Incomplete, check_complete
from harness.diff.evidence import Verification
from harness.diff.leaks import leak_changes, leaks_by_key
from harness.diff.lookups import lookup_changes
from harness.diff.requirements import requirement_ids, requirement_rows
from harness.diff.sides import Side, component, destination_key, side_of

MIN_VOLUME_BYTES = 10_000
COVERAGE_POINTS = 10.0
DEVICE_FIELDS = ("fingerprint", "security_patch", "android_release", "release", "sdk", "build_id",
                 "incremental", "kernel", "model")


@dataclass(frozen=True)
class Change:
    """One difference; `rule` names the policy rule that makes it a regression (or None).

    `components` are the apps or system components it concerns: those attributed with
    high or medium confidence when there are any, else every one the flows were put on.
    """

    kind: str
    components: tuple[str, ...]
    subject: str
    detail: str
    rule: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    requirements: tuple[str, ...] = ()  # the requirement ids it concerns (diff/requirements.py)

    @property
    def regression(self) -> bool:
        return self.rule is not None

    @property
    def component(self) -> str:
        return ", ".join(self.components)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "components": list(self.components), "component": self.component,
                "regression": self.regression, "requirements": list(self.requirements)}


@dataclass
class DiffResult:
    baseline: list[str]
    new: list[str]
    changes: list[Change]
    components: list[str]
    incomplete: list[Incomplete] = field(default_factory=list)  # judged with allow_partial
    verification: Verification | None = None  # what was checked of the inputs, if anything
    requirements: list[dict[str, str]] = field(default_factory=list)  # id, standard, title: the new side's

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "lab-harness-diff", "format_version": 1,
            "baseline": self.baseline, "new": self.new,
            "verdict": "regression" if self.regressions else "ok", "exit_code": self.exit_code,
            "regressions": [c.as_dict() for c in self.regressions],
            "changes": [c.as_dict() for c in self.changes],
            "components": self.components,
            "incomplete": [i.as_dict() for i in self.incomplete],
            "requirements": self.requirements,
            "verification": self.verification.as_dict() if self.verification is not None else None,
        }


def _where(d: pd.Series) -> str:
    country = ",".join(d["countries"]) or "?"
    org = ", ".join(d["orgs"]) or "?"
    return f"{', '.join(d['destinations'])} ({country}, {org})"


def compare(base: Side, new: Side, policy: Policy) -> list[Change]:
    """The changes from `base` to `new` under `policy`."""
    rules = policy.regression
    watch = set(policy.watchlist_countries)
    changes: list[Change] = []
    base_keys, new_keys = set(base.dests.index), set(new.dests.index)
    base_pairs = {(r.data_type, r.key) for r in base.pairs.itertuples()}
    base_foreign_types = {r.data_type for r in base.pairs.itertuples() if r.foreign}
    data_to = new.pairs.groupby("key")["data_type"].agg(lambda s: sorted(set(s))).to_dict() if len(new.pairs) else {}

    for key in sorted(new_keys - base_keys):
        d = new.dests.loc[key]
        types = data_to.get(key, [])
        rule = None
        if d["foreign"] and types and rules.new_foreign_destination_with_data:
            rule = "new_foreign_destination_with_data"
        elif d["foreign"] and d["raw"] and rules.new_foreign_raw_destination:
            rule = "new_foreign_raw_destination"
        elif d["foreign"] and rules.new_foreign_destination:
            rule = "new_foreign_destination"
        what = "new foreign destination" if d["foreign"] else "new destination"
        detail = (f"{what} {_where(d)}" + (f" over {d['raw']}" if d["raw"] else "")
                  + (f" receiving {', '.join(types)}" if types else ""))
        changes.append(Change("new_destination", d["apps"], ", ".join(d["destinations"]), detail, rule,
                              {"key": key, "countries": d["countries"], "orgs": d["orgs"],
                               "foreign": bool(d["foreign"]), "data_types": types, "raw": d["raw"],
                               "evidence": d["evidence"]}))
    for key in sorted(base_keys - new_keys):
        d = base.dests.loc[key]
        changes.append(Change("vanished_destination", d["apps"], ", ".join(d["destinations"]),
                              f"destination no longer contacted: {_where(d)}", None, {"key": key}))

    base_types = set(base.pairs["data_type"]) if len(base.pairs) else set()
    for r in new.pairs.itertuples():
        if (r.data_type, r.key) in base_pairs:
            continue
        if r.key not in base_keys and r.data_type in base_foreign_types and r.foreign:
            continue  # a known type to a new destination: the new destination says it
        d = new.dests.loc[r.key]
        rule = "new_data_type_to_foreign" if r.foreign and rules.new_data_type_to_foreign else None
        fresh = "new data type" if r.data_type not in base_types else "data type"
        detail = (f"{fresh} {r.data_type} ({'+'.join(r.encodings) or '?'}) to "
                  f"{'foreign ' if r.foreign else ''}{_where(d)}")
        changes.append(Change("new_data_type", r.apps, f"{r.data_type} -> {', '.join(d['destinations'])}",
                              detail, rule, {"data_type": r.data_type, "encodings": r.encodings,
                                             "key": r.key, "foreign": bool(r.foreign), "evidence": r.evidence}))

    changes += [Change(**c) for c in leak_changes(leaks_by_key(base.analysis.tunnel_leaks, destination_key),
                                                  leaks_by_key(new.analysis.tunnel_leaks, destination_key),
                                                  rules.new_tunnel_leak)]
    covered = {c.data["key"] for c in changes if c.kind == "new_destination" and c.regression}
    changes += _country_org_changes(base, new, watch, rules.new_watchlist_country, covered)
    for key in sorted(base_keys & new_keys):
        b, n = base.dests.loc[key], new.dests.loc[key]
        gained, lost = n["flags"] - b["flags"], b["flags"] - n["flags"]
        if gained or lost:
            changes.append(Change("flags_changed", n["apps"], ", ".join(n["destinations"]),
                                  f"flags of {_where(n)}: " + ", ".join(
                                      [f"+{x}" for x in sorted(gained)] + [f"-{x}" for x in sorted(lost)]),
                                  None, {"key": key, "gained": sorted(gained), "lost": sorted(lost)}))
        if n["clear_data"] and not b["clear_data"] and rules.new_cleartext_with_data:
            changes.append(Change("new_cleartext_with_data", n["apps"], ", ".join(n["destinations"]),
                                  f"sensitive data now sent in cleartext to {_where(n)}"
                                  + (f" (over {n['raw']})" if n["raw"] else ""),
                                  "new_cleartext_with_data", {"key": key, "evidence": n["clear_evidence"]}))
        hi, lo = max(b["bytes"], n["bytes"]), max(min(b["bytes"], n["bytes"]), 1)
        if hi >= MIN_VOLUME_BYTES and hi / lo > rules.volume_change_ratio:
            changes.append(Change("volume_change", n["apps"], ", ".join(n["destinations"]),
                                  f"volume to {_where(n)}: {b['bytes']} -> {n['bytes']} bytes", None,
                                  {"key": key, "baseline_bytes": int(b["bytes"]), "new_bytes": int(n["bytes"])}))
    for key in sorted(new_keys - base_keys):
        d = new.dests.loc[key]
        if d["clear_data"] and rules.new_cleartext_with_data:
            changes.append(Change("new_cleartext_with_data", d["apps"], ", ".join(d["destinations"]),
                                  f"sensitive data sent in cleartext to new {_where(d)}"
                                  + (f" (over {d['raw']})" if d["raw"] else ""),
                                  "new_cleartext_with_data", {"key": key, "evidence": d["clear_evidence"]}))
    for c in lookup_changes(base.lookups, new.lookups, base_keys, watch, rules.new_watchlist_lookup):
        changes.append(Change(**{**c, "components": tuple(sorted({component(a) for a in c["components"]}))}))
    changes += _coverage_and_device(base.analysis, new.analysis)
    modes = mode_change(base.analysis.summary, new.analysis.summary)
    changes += [Change(**modes)] if modes else []
    return changes


def _country_org_changes(base: Side, new: Side, watch: set[str], gate: bool,
                         covered: set[str]) -> list[Change]:
    """New countries and organisations; those reached only through a new destination that
    is already a regression are said by that change (its detail names them)."""
    out = []
    for col, kind in (("countries", "new_country"), ("orgs", "new_org")):
        seen = {x for xs in base.dests[col] for x in xs}
        found: dict[str, list[pd.Series]] = {}
        for key in new.dests.index:
            if key in covered:
                continue
            d = new.dests.loc[key]
            for value in d[col]:
                if value not in seen:
                    found.setdefault(value, []).append(d)
        for value, dests in sorted(found.items()):
            watchlisted = kind == "new_country" and (value in watch or any(bool(d["watchlist"]) for d in dests))
            rule = "new_watchlist_country" if watchlisted and gate else None
            label = "new watch-list country" if watchlisted else kind.replace("_", " ")
            names = sorted({n for d in dests for n in d["destinations"]})
            apps = tuple(sorted({a for d in dests for a in d["apps"]}))
            out.append(Change(kind, apps, value, f"{label} {value} via {', '.join(names)}", rule,
                              {"destinations": names}))
    return out


def _coverage_and_device(base: Analysis, new: Analysis) -> list[Change]:
    out = []
    b, n = base.summary["decryption"], new.summary["decryption"]
    if abs(b["coverage_percent"] - n["coverage_percent"]) >= COVERAGE_POINTS:
        out.append(Change("coverage_change", ("device",), "decryption coverage",
                          f"readable flows {b['coverage_percent']} % -> {n['coverage_percent']} % "
                          f"(TLS rejected {b['tls_rejected']} -> {n['tls_rejected']})", None,
                          {"baseline": b, "new": n}))
    bdev = [r["device"] for r in base.summary["runs"]]
    ndev = [r["device"] for r in new.summary["runs"]]
    for name in DEVICE_FIELDS:
        old = sorted({str(d.get(name)) for d in bdev if d.get(name) is not None})
        now = sorted({str(d.get(name)) for d in ndev if d.get(name) is not None})
        if old != now and (old or now):
            out.append(Change("device_change", ("device",), name,
                              f"{name}: {', '.join(old) or '?'} -> {', '.join(now) or '?'}", None,
                              {"baseline": old, "new": now}))
    return out


def diff_analyses(base: Analysis, new: Analysis, policy: Policy | None = None) -> DiffResult:
    policy = policy or Policy()
    changes = compare(side_of(base), side_of(new), policy)
    changes = [replace(c, requirements=requirement_ids(c.kind, c.rule, c.data, new.requirements)) for c in changes]
    components = sorted({component(a) for a in pd.concat([base.flows["app"], new.flows["app"]]).unique()}
                        | {x for c in changes for x in c.components})
    return DiffResult([r["run_id"] for r in base.summary["runs"]], [r["run_id"] for r in new.summary["runs"]],
                      changes, components, requirements=requirement_rows(new.requirements))


def capture_dirs(path: Path | str) -> list[Path]:
    """A capture folder, or a folder of capture folders (a campaign): the captures in it."""
    path = Path(path)
    if (path / RUN_JSON).exists() or (path / FLOWS_JSONL).exists() or not path.is_dir():
        return [path]
    children = sorted(p for p in path.iterdir() if p.is_dir() and (p / RUN_JSON).exists())
    return children or [path]


def diff_captures(baseline_dirs: Sequence[Path | str], new_dirs: Sequence[Path | str],
                  policy: Policy | None = None, verification: Verification | None = None,
                  allow_partial: bool = False) -> DiffResult:
    """Compare captures (each side one or more folders, merged; a folder of captures counts as
    all of them); raises CaptureError on bad input, and on a capture of a run that did not
    complete unless `allow_partial`. `verification`: what harness.diff.evidence
    found of the inputs, carried into the result and its renderings."""
    policy = policy or Policy()
    base = [c for p in baseline_dirs for c in capture_dirs(p)]
    new = [c for p in new_dirs for c in capture_dirs(p)]
    partial = check_complete([*base, *new], allow_partial)
    result = diff_analyses(analyse(base, policy), analyse(new, policy), policy)
    result.verification = verification
    result.incomplete = partial
    return result
