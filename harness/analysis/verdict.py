"""The verdict: one plain-language line per finding, most severe first.

    sent the IMEI (sha256) to analytics.vendor-cloud.example — run by Alibaba (home
    country CN), server located US — 3 times; read by com.vendor.analytics.Tracker in
    com.vendor.weather

The findings, in the order they are ranked within a severity:

0. tunnel leak (WireGuard mode): connections Frida saw that the proxy never did, which
   went around the tunnel (`N connections went around the tunnel (leak): APP to IP:PORT`);
1. data: a data type sent to a destination by an app, read by a library (one line per
   data type, destination, sender and reader; watch-list countries, then abroad, first);
2. bypass: an app's connections to a destination that went around the proxy (unread);
3. watch list: a destination in a watch-list country that received no data found;
4. cleartext: a destination talked to without TLS, no data found in it (`without TLS
   (cleartext HTTP)`, or `in cleartext (no TLS)` when raw TCP/UDP went to it);
5. coverage: an app whose connections the audit could not read (pinned, passed on, ...).

A line's severity is the lab policy's for its flags (data always counts as
`sensitive_data`). Each line carries its evidence, the flow ids and the hook events (the
reads of the value, the connects that went around the proxy) the HTML links to, its
triggers and the requirement ids they map to (harness.analysis.standards).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.datatypes import is_identifier, spoken
from harness.analysis.periodicity import MIN_BEATS
from harness.analysis.standards import RequirementTable
from harness.analysis.trackers import TrackerIndex
from harness.config import Flag, Policy, Severity

SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}
EVIDENCE_IDS = 50  # flow and hook ids kept per line (the line says how many there were)
NOT_READ = ("unknown (not hooked)", "unknown", "")
VERDICT_COLUMNS = ["n", "severity", "finding", "kind", "requirements", "flows", "hook_events",
                   "evidence_flows", "evidence_hooks", "app", "library", "sdk", "destination", "data_type",
                   "triggers"]
KIND_ORDER = {"tunnel_leak": -1, "data_to_watchlist": 0, "data_abroad": 1, "data": 2, "bypass": 3, "watchlist": 4,
              "cleartext": 5, "coverage": 6}


def verdict_frame(*, data_flows: pd.DataFrame, reads: pd.DataFrame, bypassed: pd.DataFrame,
                  destinations: pd.DataFrame, flows: pd.DataFrame, app_coverage: pd.DataFrame,
                  policy: Policy, table: RequirementTable, trackers: TrackerIndex,
                  tunnel_leaks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The verdict lines (see the module doc), numbered from 1, most severe first. `flows`
    carries each flow's `recurrence` (the timer it is a beat of: periodicity.py)."""
    ranks = {str(f): SEVERITY_RANK[str(s)] for f, s in policy.severity.items()}
    periods = _periods(flows)
    lines = (_leak_lines(tunnel_leaks, ranks, trackers)
             + _data_lines(data_flows, reads, periods, ranks, trackers)
             + _bypass_lines(bypassed, ranks, trackers)
             + _destination_lines(destinations, flows, ranks)
             + _coverage_lines(app_coverage, flows, ranks))
    if not lines:
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    out = pd.DataFrame(lines)
    out["_order"] = out["kind"].map(KIND_ORDER)
    out = out.sort_values(["_rank", "_order", "flows", "finding"], ascending=[False, True, False, True],
                          kind="stable").reset_index(drop=True)
    names = {v: k for k, v in SEVERITY_RANK.items()}
    out["severity"] = out["_rank"].map(names)
    out["n"] = np.arange(1, len(out) + 1)
    out["requirements"] = [", ".join(table.ids(t.split())) for t in out["triggers"]]
    out["kind"] = out["kind"].replace({"data_to_watchlist": "data", "data_abroad": "data"})
    return out[VERDICT_COLUMNS]


def _rank(flags: set[str], ranks: dict[str, int]) -> int:
    return max((ranks.get(f, 0) for f in flags), default=0)


def _flags(values: pd.Series) -> set[str]:
    return {f for v in values.dropna() for f in str(v).split(",") if f}


def _distinct(values: pd.Series) -> list[str]:
    return sorted({str(v) for v in values.dropna() if str(v)})


def _where(org: str, org_country: str, country: str, flags: set[str]) -> str:
    """`run by Alibaba (home country CN), server located US`."""
    run_by = f"run by {org}" if org else "run by an organisation not known"
    if org and org_country:
        run_by += f" (home country {org_country})"
    located = f"server located {country}" if country else "server location not known"
    if Flag.WATCHLIST_COUNTRY.value in flags:
        located += " (a watch-list country)"
    return f"{run_by}, {located}"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _ids(values: list[str]) -> str:
    return " ".join(values[:EVIDENCE_IDS])


def _periods(flows: pd.DataFrame) -> dict[str, str]:
    """flow id -> `every 10 s +/- 0.3 s`: the timer the flow is a beat of (flows with
    findings only: no other is cited by a data line)."""
    if "recurrence" not in flows:
        return {}
    cited = flows["n_findings"].to_numpy(dtype="int64", na_value=0) > 0 if "n_findings" in flows else slice(None)
    beats = flows.loc[cited, ["flow_id", "recurrence"]]
    return {str(f): str(r).split(",")[0] for f, r in zip(beats["flow_id"], beats["recurrence"], strict=True)
            if isinstance(r, str) and r}


def _period_of(flow_ids: list[str], periods: dict[str, str]) -> str | None:
    """The timer most of a line's flows are beats of, if at least MIN_BEATS of them are."""
    found = pd.Series([periods[i] for i in flow_ids if i in periods], dtype=object)
    if len(found) < MIN_BEATS:
        return None
    return str(found.value_counts().index[0])


def _data_lines(data_flows: pd.DataFrame, reads: pd.DataFrame, periods: dict[str, str],
                ranks: dict[str, int], trackers: TrackerIndex) -> list[dict[str, Any]]:
    """A line per data type, destination and (organisation, server country); who sent it
    is said in the line: each sender and reader, most transmissions first."""
    if data_flows.empty:
        return []
    df = data_flows.assign(_dest=data_flows["host"].where(data_flows["host"].astype(str) != "",
                                                          data_flows["server_ip"]))
    out = []
    keys = ["data_type", "_dest", "org", "org_country", "country"]
    for (dtype, dest, org, org_country, country), g in df.groupby(keys, sort=True):
        flags = _flags(g["flags"]) | {Flag.SENSITIVE_DATA.value}
        flow_ids = _flow_set(g)
        encodings = sorted({e for v in g["encodings"] for e in str(v).split(",") if e})
        senders = _senders(g, reads, trackers, str(dest))
        app, reader = senders[0]["app"], senders[0]["library"]
        tracker = next((t["tracker"] for t in senders if t["tracker"] is not None), None)
        tracker = tracker or trackers.of_host(str(dest))
        hooks = [h for sender in senders for h in sender["hooks"]]
        who = "; ".join(sender["text"] + (f" ({_times(sender['n'])})" if len(senders) > 1 else "")
                        for sender in senders)
        period = _period_of(flow_ids, periods)
        clear = " in cleartext (no TLS)" if Flag.CLEARTEXT.value in flags else ""  # HTTP, or raw TCP/UDP
        finding = (f"sent {spoken(dtype)} ({'+'.join(encodings) or 'plain'}) to {dest}{clear} — "
                   f"{_where(str(org), str(org_country), str(country), flags)} — {_times(len(flow_ids))}"
                   + (f" ({period})" if period else "") + f"; {who}")
        triggers = ["data_sent", "identifier_sent" if is_identifier(str(dtype)) else "personal_data_sent"]
        kind = "data"
        if Flag.FOREIGN.value in flags:
            triggers.append("data_abroad")
            kind = "data_abroad"
        if Flag.WATCHLIST_COUNTRY.value in flags:
            triggers.append("data_to_watchlist")
            kind = "data_to_watchlist"
        if clear:
            triggers.append("cleartext_data")
        if tracker is not None:
            triggers.append("tracker_data")
        if period:
            triggers.append("telemetry")
        out.append({"finding": finding, "kind": kind, "_rank": _rank(flags, ranks), "flows": len(flow_ids),
                    "hook_events": len(hooks), "evidence_flows": _ids(flow_ids), "evidence_hooks": _ids(hooks),
                    "app": app, "library": reader if reader not in NOT_READ else "",
                    "sdk": tracker.name if tracker else "", "destination": dest, "data_type": dtype,
                    "triggers": " ".join(triggers)})
    return out


def _flow_set(g: pd.DataFrame) -> list[str]:
    return sorted({i for ev in g["evidence"] for i in str(ev).split() if i})


def _senders(g: pd.DataFrame, reads: pd.DataFrame, trackers: TrackerIndex, dest: str) -> list[dict[str, Any]]:
    """Who sent a line's data: per (app, reading library), most transmissions first, with
    the words for it, its SDK and the hook events of its reads."""
    out = []
    for (app, library), s in g.groupby(["app", "library"], sort=True):
        reader = str(library)
        tracker = trackers.of_class(reader) if reader not in NOT_READ else None
        sdk = tracker or trackers.of_host(dest)
        out.append({"app": app, "library": reader, "n": len(_flow_set(s)), "tracker": tracker,
                    "hooks": _read_hooks(reads, app, reader, set(s["canary_id"])),
                    "text": _reader(str(app), reader, sdk.name if sdk else "",
                                    ", ".join(_distinct(s["possible_readers"])))})
    return sorted(out, key=lambda x: (-x["n"], str(x["app"]) in ("", "unattributed")))


def _reader(app: str, library: str, sdk: str, possible: str) -> str:
    sdk_text = f" ({sdk})" if sdk else ""
    if app in ("", "unattributed"):
        sender = "sender not identified"
        return sender + (f"; read on the device by {possible}" if possible else "")
    if library in NOT_READ:
        text = f"sent by {app}{sdk_text}; the read was not seen (not hooked)"
        return text + (f"; read on the device by {possible}" if possible else "")
    return f"read by {library}{sdk_text} in {app}"


def _read_hooks(reads: pd.DataFrame, app: Any, library: str, canaries: set[Any]) -> list[str]:
    if reads.empty or "hook_id" not in reads:
        return []
    mine = reads[(reads["package"] == app) & reads["canary_id"].isin(canaries)]
    if library not in NOT_READ:
        mine = mine[mine["library"] == library]
    return [str(h) for h in mine.sort_values("ts")["hook_id"].dropna()]


def _unread_connection_lines(connects: pd.DataFrame | None, flag: Flag, kind: str, ranks: dict[str, int],
                             trackers: TrackerIndex, say: Any) -> list[dict[str, Any]]:
    """A line per app and destination of Frida-seen connections whose content the capture
    never read (around the proxy, or around the tunnel); `say(app, dest, g, where)` words it."""
    out: list[dict[str, Any]] = []
    if connects is None or connects.empty:
        return out
    for (app, dest), g in connects.groupby(["app", "destination"], sort=True):
        flags = _flags(g["flags"]) | {flag.value}
        hooks = [str(h) for h in g.get("hook_id", pd.Series(dtype=object)).dropna()]
        tracker = trackers.of_host(str(dest))
        org, org_country, country = (", ".join(_distinct(g[c])) for c in ("org", "org_country", "country"))
        out.append({"finding": say(app, dest, g, _where(org, org_country, country, flags)), "kind": kind,
                    "_rank": _rank(flags, ranks), "flows": 0, "hook_events": len(g), "evidence_flows": "",
                    "evidence_hooks": _ids(hooks), "app": app, "library": "",
                    "sdk": tracker.name if tracker else "", "destination": dest, "data_type": "",
                    # a connection around the capture, unread: what bypassed_proxy's requirements ask about
                    "triggers": "bypassed_proxy" + (" foreign" if Flag.FOREIGN.value in flags else "")})
    return out


def _bypass_lines(bypassed: pd.DataFrame, ranks: dict[str, int], trackers: TrackerIndex) -> list[dict[str, Any]]:
    def say(app: str, dest: str, g: pd.DataFrame, where: str) -> str:
        return f"{app} connected to {dest} around the proxy — {where} — {_times(len(g))}; nothing it sent there was read"

    return _unread_connection_lines(bypassed, Flag.BYPASSED_PROXY, "bypass", ranks, trackers, say)


def _leak_lines(leaks: pd.DataFrame | None, ranks: dict[str, int], trackers: TrackerIndex) -> list[dict[str, Any]]:
    """A line per app and destination whose connections went around the WireGuard tunnel."""
    def say(app: str, dest: str, g: pd.DataFrame, where: str) -> str:
        ports = ", ".join(sorted({f"{ip}:{int(port)}" for ip, port in zip(g["ip"], g["port"], strict=True)}))
        to = f"{dest} ({ports})" if str(dest) not in ports else ports
        n = len(g)
        return (f"{n} connection{'' if n == 1 else 's'} went around the tunnel (leak): {app} to {to} — "
                f"{where}; the proxy never saw {'it' if n == 1 else 'them'}")

    return _unread_connection_lines(leaks, Flag.TUNNEL_LEAK, "tunnel_leak", ranks, trackers, say)


def _flow_ids(flows: pd.DataFrame, mask: pd.Series) -> list[str]:
    return [str(i) for i in flows.loc[mask, "flow_id"].head(EVIDENCE_IDS)]


def _raw_cleartext(flows: pd.DataFrame, destination: str) -> bool:
    """Some of the destination's cleartext flows are raw TCP/UDP (not HTTP)."""
    if "capture_kind" not in flows:
        return False
    mask = (flows["destination"] == destination) & (flows["coverage"] == "cleartext")
    return bool(flows.loc[mask, "capture_kind"].isin(("tcp", "udp")).any())


def _destination_lines(destinations: pd.DataFrame, flows: pd.DataFrame, ranks: dict[str, int]) -> list[dict[str, Any]]:
    """Watch-list destinations and cleartext ones that received no data found."""
    out = []
    if destinations.empty:
        return out
    quiet = destinations[(destinations["data_types"].astype(str) == "") & (destinations["flows"] > 0)]
    for d in quiet.itertuples(index=False):
        flags = set(str(d.flags).split(",")) - {""}
        watch = Flag.WATCHLIST_COUNTRY.value in flags
        clear = int(d.cleartext) > 0
        if not (watch or clear):
            continue
        ids = _flow_ids(flows, flows["destination"] == d.destination)
        where = _where(str(d.org), str(d.org_country), str(d.country), flags)
        if watch:
            finding = (f"contacted {d.destination} — {where} — {_times(int(d.flows))}; "
                       "no sensitive data found in what could be read")
            kind, triggers = "watchlist", "watchlist_country foreign"
        else:
            how = "in cleartext (no TLS)" if _raw_cleartext(flows, d.destination) else "without TLS (cleartext HTTP)"
            finding = f"talked to {d.destination} {how} — {where} — {_times(int(d.cleartext))}"
            kind, triggers = "cleartext", "cleartext"
        rank = _rank(flags if watch else {Flag.CLEARTEXT.value}, ranks)
        out.append({"finding": finding, "kind": kind, "_rank": rank, "flows": int(d.flows), "hook_events": 0,
                    "evidence_flows": _ids(ids), "evidence_hooks": "", "app": str(d.apps), "library": "",
                    "sdk": "", "destination": d.destination, "data_type": "", "triggers": triggers})
    return out


def _coverage_lines(app_coverage: pd.DataFrame, flows: pd.DataFrame, ranks: dict[str, int]) -> list[dict[str, Any]]:
    out = []
    for c in app_coverage.itertuples(index=False) if len(app_coverage) else ():
        unread = int(c.pinned) + int(c.not_decrypted) + int(c.non_http) + int(c.failed)
        if not unread:
            continue
        mask = (flows["app"] == c.app) & ~flows["coverage"].isin(("intercepted", "cleartext"))
        flags = {Flag.TLS_REJECTED.value} if c.pinned else set()
        out.append({"finding": f"could not read {c.app}'s traffic: {c.coverage}", "kind": "coverage",
                    "_rank": _rank(flags, ranks), "flows": unread, "hook_events": 0,
                    "evidence_flows": _ids(_flow_ids(flows, mask)), "evidence_hooks": "", "app": c.app,
                    "library": "", "sdk": "", "destination": "", "data_type": "",
                    "triggers": "tls_rejected" if c.pinned else "coverage"})
    return out
