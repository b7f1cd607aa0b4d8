"""One side of a diff (baseline or new), keyed for comparison: its destinations, the data
types sent to each, which component used which, and the names seen only through DNS.

Destinations are matched robustly, so run-to-run noise is not news: host names are
compared with numbered shards folded (`cdn1.` = `cdn02.` = `cdn#.`, long hex labels too),
and a destination known only by its IP is matched by its organisation, so an IP that
rotates within one organisation is the same destination.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.analysis import Analysis
from harness.diff.lookups import lookups_by_key
from harness.names import is_ip

_DIGITS = re.compile(r"\d+")
_HEXISH = re.compile(r"^(?=.*\d)[0-9a-f-]{8,}$")
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


def component(app: Any) -> str:
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


def side_of(a: Analysis) -> Side:
    """The side an analysis makes."""
    flows = a.flows
    if "capture_kind" in flows:  # a DNS lookup is no destination: the names seen only there are `lookups`
        flows = flows[flows["capture_kind"] != "dns"]
    f = pd.DataFrame({"key": _keys(flows["host"].fillna(flows["sni"]), flows["server_ip"], flows["org"])},
                     dtype=object)
    f = f.assign(
        destination=flows["destination"].to_numpy(), app=flows["app"].map(component).to_numpy(),
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
            "destination": b["destination"].to_numpy(), "app": b["app"].map(component).to_numpy(),
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
        fi = fi.assign(key=_keys(fi["host"], fi["server_ip"], fi["org"]), component=fi["app"].map(component),
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
