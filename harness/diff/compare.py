"""Baseline vs new captures: what changed in where the phone sends data and what it sends.

    result = diff_captures([baseline_dir, ...], [new_dir, ...], policy)
    result.exit_code      # 0 no regression, 1 regression (input errors raise CaptureError: 2)

A capture whose run did not complete (a step failed, interrupted, killed) is refused
unless allow_partial=True; `result.incomplete` then names it (diff/completeness.py).

Destinations are matched robustly, so run-to-run noise is not news: host names are
compared with numbered shards folded (`cdn1.` = `cdn02.` = `cdn#.`, long hex labels too),
and a destination known only by its IP is matched by its organisation, so an IP that
rotates within one organisation is the same destination. Which changes are regressions
is lab.yaml's policy.regression (harness.config.RegressionPolicy).
"""

from __future__ import annotations

import re
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
from harness.diff.lookups import lookup_changes, lookups_by_key
from harness.diff.requirements import requirement_ids, requirement_rows
from harness.names import is_ip

_DIGITS = re.compile(r"\d+")
_HEXISH = re.compile(r"^(?=.*\d)[0-9a-f-]{8,}$")
MIN_VOLUME_BYTES = 10_000
COVERAGE_POINTS = 10.0
DEVICE_FIELDS = ("fingerprint", "security_patch", "android_release", "release", "sdk", "build_id",
                 "incremental", "kernel", "model")
SYSTEM = "system"
RAW_KINDS = ("tcp", "udp", "quic")  # flow_kinds: traffic the proxy passed on, read at best in part
EVIDENCE_FLOWS = 5


def destination_key(host: str | None, ip: str | None = None, org: str | None = None) -> str:
    """The name under which a destination is compared between runs."""
    host, ip, org = (v if isinstance(v, str) else None for v in (host, ip, org))
    name = (host or "").strip().lower().rstrip(".")
    if name and not is_ip(name):
        labels = ["#" if _HEXISH.match(label) else _DIGITS.sub("#", label) for label in name.split(".")]
        return ".".join(labels)
    addr = name or (ip or "")
    if org:
        return f"ip-of:{org.strip().lower()}"
    return f"ip:{addr}" if addr else "(unknown)"


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


@dataclass
class Side:
    """One side of the diff, keyed for comparison."""

    analysis: Analysis
    dests: pd.DataFrame  # key -> destinations, foreign, watchlist, countries, orgs, apps, bytes, flags
    pairs: pd.DataFrame  # data_type, key, foreign, encodings, apps, evidence
    uses: set[tuple[str, str]]  # (component, key)
    lookups: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> names seen only through DNS


def _keys(host: pd.Series, ip: pd.Series, org: pd.Series) -> list[str]:
    """destination_key of each row, computed once per distinct (host, ip, org)."""
    tri = pd.DataFrame({"h": host.astype(object).to_numpy(), "i": ip.astype(object).to_numpy(),
                        "o": org.astype(object).to_numpy()})
    tri = tri.where(tri.notna(), None)
    uniq = tri.drop_duplicates()
    uniq["key"] = [destination_key(h, i, o) for h, i, o in uniq.itertuples(index=False, name=None)]
    return tri.merge(uniq, how="left", on=["h", "i", "o"])["key"].tolist()


def _component(app: Any) -> str:
    text = str(app) if isinstance(app, str) and app else "unattributed"
    return SYSTEM if text.startswith("system") else text


SURE = ("high", "medium")


def _owners(apps: pd.Series, sure: pd.Series, guess: pd.Series) -> tuple[str, ...]:
    """Who a change concerns: the apps attributed with confidence; else those not merely
    in front at the time (an unhooked service is `system`/`unattributed`); else all."""
    confident = set(apps[sure.to_numpy(dtype=bool)])
    not_guessed = set(apps[~guess.to_numpy(dtype=bool)])
    return tuple(sorted(confident or not_guessed or set(apps)))


def _evidence(g: pd.DataFrame) -> list[str]:
    """The flow ids a change cites: those with findings first."""
    ordered = g.sort_values(["n_findings", "flow_id"], ascending=[False, True], kind="stable")
    return [str(i) for i in ordered["flow_id"].dropna().head(EVIDENCE_FLOWS)]


def _side(a: Analysis) -> Side:
    flows = a.flows
    if "capture_kind" in flows:  # a DNS lookup is no destination: the names seen only there are `lookups`
        flows = flows[flows["capture_kind"] != "dns"]
    f = pd.DataFrame({"key": _keys(flows["host"].fillna(flows["sni"]), flows["server_ip"], flows["org"])},
                     dtype=object)
    f = f.assign(
        destination=flows["destination"].to_numpy(), app=flows["app"].map(_component).to_numpy(),
        sure=flows["attribution_confidence"].isin(SURE).to_numpy(),
        guess=(flows["attribution_method"] == "foreground_app").to_numpy(),
        country=flows["country"].fillna("").to_numpy(), org=flows["org"].fillna("").to_numpy(),
        flags=flows["flags"].fillna("").to_numpy(),
        bytes=(flows["request_bytes"] + flows["response_bytes"]).to_numpy(),
        clear_data=((flows["scheme"] == "http") | (flows["coverage"] == "cleartext"))
        .to_numpy() & (flows["n_findings"] > 0).to_numpy(),  # plain HTTP, or raw TCP/UDP read in clear
        kind=flows.get("capture_kind", flows["kind"]).to_numpy(), protocol=flows.get("protocol", flows["kind"]).to_numpy(),
        port=flows["server_port"].to_numpy(), flow_id=flows["flow_id"].to_numpy(),
        n_findings=flows["n_findings"].to_numpy(),
    )
    b = a.bypassed
    if len(b):
        f = pd.concat([f, pd.DataFrame({
            "key": _keys(b["host"].fillna(b["destination"]), b["server_ip"].fillna(b["ip"]), b["org"]),
            "destination": b["destination"].to_numpy(), "app": b["app"].map(_component).to_numpy(),
            "sure": True, "guess": False, "country": b["country"].fillna("").to_numpy(), "org": b["org"].fillna("").to_numpy(),
            "flags": b["flags"].fillna("bypassed_proxy").to_numpy(), "bytes": 0, "clear_data": False,
            "kind": "bypass", "protocol": None, "port": b["port"].to_numpy(), "flow_id": None, "n_findings": 0,
        })], ignore_index=True)
    rows = []
    for key, g in f.groupby("key", sort=True):
        flags = {x for v in pd.unique(g["flags"]) for x in str(v).split(",") if x}
        rows.append({
            "key": key, "destinations": sorted(set(g["destination"])), "flags": flags,
            "foreign": "foreign" in flags, "watchlist": "watchlist_country" in flags,
            "countries": sorted({c for c in pd.unique(g["country"]) if c}),
            "orgs": sorted({o for o in pd.unique(g["org"]) if o}),
            "apps": _owners(g["app"], g["sure"], g["guess"]), "bytes": int(g["bytes"].sum()),
            "clear_data": bool(g["clear_data"].any()), "raw": _raw_label(g), "evidence": _evidence(g),
            "clear_evidence": _evidence(g[g["clear_data"]]),
        })
    dests = pd.DataFrame(rows, columns=["key", "destinations", "flags", "foreign", "watchlist", "countries",
                                        "orgs", "apps", "bytes", "clear_data", "raw", "evidence",
                                        "clear_evidence"]).set_index("key", drop=False)
    fi = a.findings
    prow = []
    if len(fi):
        fi = fi.assign(key=_keys(fi["host"], fi["server_ip"], fi["org"]), component=fi["app"].map(_component),
                       sure=fi["attribution_confidence"].isin(SURE),
                       guess=fi["attribution_method"] == "foreground_app")
        for (dtype, key), g in fi.groupby(["data_type", "key"], sort=True):
            prow.append({"data_type": str(dtype), "key": key,
                         "foreign": bool(g["flags"].str.contains("foreign", regex=False).any()),
                         "encodings": sorted({str(e) for e in g["encoding"].dropna()}),
                         "apps": _owners(g["component"], g["sure"], g["guess"]),
                         "evidence": sorted({str(i) for i in g["flow_id"].dropna()})[:EVIDENCE_FLOWS]})
    pairs = pd.DataFrame(prow, columns=["data_type", "key", "foreign", "encodings", "apps", "evidence"])
    uses = set(zip(f["app"], f["key"], strict=True))
    return Side(a, dests, pairs, uses, lookups_by_key(getattr(a, "dns_only", None), destination_key))


def _raw_label(g: pd.DataFrame) -> str:
    """`tcp/xmpp:5222, udp:9999`: how a destination was reached other than over HTTP ('' if not)."""
    raw = g[g["kind"].isin(RAW_KINDS)]
    labels = []
    for kind, protocol, port in raw[["kind", "protocol", "port"]].drop_duplicates().itertuples(index=False):
        name = kind if not isinstance(protocol, str) or protocol in ("", kind) else f"{kind}/{protocol}"
        labels.append(f"{name}:{int(port)}" if pd.notna(port) else name)
    return ", ".join(sorted(set(labels)))


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
        changes.append(Change(**{**c, "components": tuple(sorted({_component(a) for a in c["components"]}))}))
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
    changes = compare(_side(base), _side(new), policy)
    changes = [replace(c, requirements=requirement_ids(c.kind, c.rule, c.data, new.requirements)) for c in changes]
    components = sorted({_component(a) for a in pd.concat([base.flows["app"], new.flows["app"]]).unique()}
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
