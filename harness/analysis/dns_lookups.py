"""Destinations seen only through DNS: names the handset looked up and never connected to.

A full-device capture (WireGuard mode) records every DNS lookup. A name whose lookup is
the only trace of it (no flow to the name, to a name of its answers' CNAME chain or to
one of its answer addresses, and no connection Frida saw going around the proxy to
them) is listed on its own: what was asked, what the resolver answered, where those
addresses are (the run's geo sources, as the proxy would have located them) and who
asked. A lookup is news in itself: the code meant to talk there (a connection that was
blocked, failed, or is still to come), and the name was told to the resolver (a name can
carry data too: findings in DNS queries are listed with it).

Raw TCP/UDP/QUIC flows that the proxy recorded by an address only (no SNI, no name from
its DNS map; in contained mode the address of the lab responder that answered) are named
here from the capture's own DNS answers for their server address, else from the lab
zone's host of that world address, else by the server address itself: a lab responder's
loopback address is never where the handset meant to go.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from harness.analysis.bypass import geo_config, lab_policy
from harness.capture import Zone
from harness.config import Policy, Severity
from harness.geo import GeoLocator
from harness.names import is_ip

SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}
EVIDENCE = 10  # flow ids kept per name
DNS_ONLY_COLUMNS = ["severity", "name", "answers", "country", "org", "org_country", "apps", "lookups",
                    "resolvers", "rcodes", "data_types", "flags", "first_seen", "last_seen", "evidence"]


def _names(series: pd.Series) -> list[str]:
    return [n.strip().lower().rstrip(".") for v in series.dropna() for n in str(v).split(",") if n.strip()]


CONNECTION_COLUMNS = ("destination", "host", "sni", "payload_sni", "dns_names", "server_ip", "ip", "dest_host",
                      "dest_ip")


def _connected(frames: Sequence[pd.DataFrame]) -> set[tuple[str, str]]:
    """(run id, name or address) of everything a connection went to."""
    seen: set[tuple[str, str]] = set()
    for frame in frames:
        if frame is None or frame.empty or "run_id" not in frame:
            continue
        for col in CONNECTION_COLUMNS:
            if col in frame:
                for run, group in frame.groupby("run_id")[col]:
                    seen.update((str(run), n) for n in _names(group))
    return seen


def lookups_only(flows: pd.DataFrame, elsewhere: Sequence[pd.DataFrame] = ()) -> pd.DataFrame:
    """The DNS flows whose name (and answers) no connection of their run went to, with
    `name` and `answer_list` columns. `elsewhere`: connections seen otherwise (those that
    went around the proxy, Frida's connect events), frames with run_id and the columns
    of CONNECTION_COLUMNS they have."""
    dns = flows[flows["capture_kind"] == "dns"]
    if dns.empty:
        return dns.assign(name=pd.Series(dtype=object), answer_list=pd.Series(dtype=object))
    seen = _connected([flows[flows["capture_kind"] != "dns"], *elsewhere])
    names = dns["dns_name"].fillna(dns["host"]).fillna("").astype(str).str.lower().str.rstrip(".")
    answers = dns["dns_answers"].fillna("").astype(str).map(lambda t: [a.strip().lower().rstrip(".")
                                                                       for a in t.split(",") if a.strip()])
    keep = [name != "" and not any((str(run), x) in seen for x in [name, *listed])
            for run, name, listed in zip(dns["run_id"], names, answers, strict=True)]
    return dns.assign(name=names, answer_list=answers)[keep]


RAW_KINDS = ("tcp", "udp", "quic")


def _loopback(text: str) -> bool:
    return is_ip(text) and ipaddress.ip_address(text).is_loopback


def _answer_names(flows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(run id, address) -> the name whose lookup last answered it."""
    dns = flows[flows["capture_kind"] == "dns"].sort_values("ts_start", kind="stable")
    names = dns["dns_name"].fillna(dns["host"])
    out: dict[tuple[str, str], str] = {}
    for run, name, text in zip(dns["run_id"], names, dns["dns_answers"].fillna(""), strict=True):
        for answer in str(text).split(","):
            if isinstance(name, str) and name and is_ip(answer.strip()):
                out[(str(run), answer.strip())] = name.lower().rstrip(".")
    return out


def _zone_names(zone: Zone | None) -> dict[str, str]:
    """world address -> the zone's host of it (addresses two hosts share are left out)."""
    if zone is None:
        return {}
    hosts: dict[str, set[str]] = {}
    for host in zone.hosts.values():
        hosts.setdefault(host.world_ip, set()).add(host.name)
    return {ip: next(iter(names)) for ip, names in hosts.items() if len(names) == 1}


def name_raw_hosts(flows: pd.DataFrame, zones: Mapping[str, Zone | None]) -> tuple[pd.Series, pd.Series]:
    """The flows' `host` and `notes`, raw flows recorded by an address named (module doc)."""
    host, notes = flows["host"].copy(), flows["notes"].copy()
    if flows.empty:
        return host, notes
    text = host.astype(object).where(host.notna(), "").astype(str)
    named = flows["sni"].notna() | (flows["payload_sni"].notna() if "payload_sni" in flows else False)
    addressed = text.map(is_ip) | ((text == "") & ~named)  # a TLS/QUIC SNI names it already
    todo = flows.index[flows["capture_kind"].isin(RAW_KINDS).to_numpy() & addressed.to_numpy()]
    if not len(todo):
        return host, notes
    answers = _answer_names(flows)
    zone_names = {str(run): _zone_names(zone) for run, zone in zones.items()}
    for i in todo:
        run, ip, recorded = str(flows.at[i, "run_id"]), flows.at[i, "server_ip"], text.at[i]
        if not isinstance(ip, str) or not ip:
            continue
        name = answers.get((run, ip))
        why = f"named {name} by the capture's DNS answer for {ip}" if name else ""
        if name is None and (name := zone_names.get(run, {}).get(ip)) is not None:
            why = f"named {name} by the lab zone's host of {ip}"
        if name is None and (_loopback(recorded) or not recorded):
            name, why = ip, f"named by its server address {ip}"
        if name is None or name == recorded:
            continue
        if recorded:
            why += f" (recorded host {recorded}{', a lab responder' if _loopback(recorded) else ''})"
        host.at[i] = name
        notes.at[i] = "; ".join(n for n in (str(notes.at[i] or ""), why) if n)
    return host, notes


def _geo(only: pd.DataFrame, runs: Mapping[str, dict[str, Any]]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(run id, answer address) -> (country or label, org, org country)."""
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    locators: dict[str, GeoLocator] = {}
    for run, listed in zip(only["run_id"], only["answer_list"], strict=True):
        for ip in listed:
            if (run, ip) in out or not is_ip(ip):
                continue
            if run not in locators:
                locators[run] = GeoLocator(geo_config(runs.get(run) or {}))
            answer = locators[run].locate(ip)
            out[(run, ip)] = (answer.country or answer.label or "", answer.org or "", answer.org_country or "")
    return out


def _flags(countries: set[str], jurisdictions: set[str], watch: set[str]) -> str:
    flags = []
    if any(len(c) == 2 and jurisdictions and c not in jurisdictions for c in countries):
        flags.append("foreign")
    if countries & watch:
        flags.append("watchlist_country")
    return ",".join(flags)


def dns_only_frame(flows: pd.DataFrame, findings: pd.DataFrame, elsewhere: Sequence[pd.DataFrame],
                   runs: Mapping[str, dict[str, Any]], policy: Policy) -> pd.DataFrame:
    """One row per name seen only through DNS (see the module doc), watch-list first.
    `elsewhere`: as lookups_only's; `runs`: run id -> its run.json (the lab snapshot's geo
    and policy)."""
    only = lookups_only(flows, elsewhere)
    if only.empty:
        return pd.DataFrame(columns=DNS_ONLY_COLUMNS)
    geo = _geo(only, runs)
    types = {}
    if len(findings):
        types = findings.groupby("flow_id")["data_type"].agg(lambda s: {str(t) for t in s if pd.notna(t)}).to_dict()
    ranks = {str(f): SEVERITY_RANK[str(s)] for f, s in policy.severity.items()}
    rows = []
    for name, g in only.groupby("name", sort=True):
        located = [geo[(r, a)] for r, listed in zip(g["run_id"], g["answer_list"], strict=True)
                   for a in listed if (r, a) in geo]
        countries = {c for c, _, _ in located if c}
        watch, jurisdictions = set(policy.watchlist_countries), set(policy.allowed_countries)
        for run in pd.unique(g["run_id"]):
            lab = lab_policy(runs.get(run) or {})
            if lab is not None:
                watch |= lab[1]
                if lab[0] and not policy.allowed_countries:
                    jurisdictions.add(lab[0])
        flags = _flags(countries, jurisdictions, watch)
        rank = max((ranks.get(f, 0) for f in flags.split(",") if f), default=0)
        ids = [str(i) for i in g.sort_values("ts_start")["flow_id"]]
        rows.append({
            "severity": next(k for k, v in SEVERITY_RANK.items() if v == rank), "_rank": rank, "name": name,
            "answers": ", ".join(dict.fromkeys(a for listed in g["answer_list"] for a in listed)),
            "country": ", ".join(sorted(countries)),
            "org": ", ".join(sorted({o for _, o, _ in located if o})),
            "org_country": ", ".join(sorted({oc for _, _, oc in located if oc})),
            "apps": ", ".join(sorted({str(a) for a in g["app"].dropna() if str(a)})),
            "lookups": len(g),
            "resolvers": ", ".join(sorted({str(r) for r in g["dns_resolver"].dropna()})),
            "rcodes": ", ".join(sorted({str(r) for r in g["dns_rcode"].dropna()})),
            "data_types": ", ".join(sorted({t for i in g["flow_id"] for t in types.get(i, ())})),
            "flags": flags, "first_seen": g["ts_start"].min(), "last_seen": g["ts_start"].max(),
            "evidence": " ".join(ids[:EVIDENCE]) + (f" (+{len(ids) - EVIDENCE} more)" if len(ids) > EVIDENCE else ""),
        })
    out = pd.DataFrame(rows).sort_values(["_rank", "lookups", "name"], ascending=[False, False, True], kind="stable")
    return out[DNS_ONLY_COLUMNS].reset_index(drop=True)
