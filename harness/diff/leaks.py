"""New connections around the WireGuard tunnel, between a baseline and a new capture.

In WireGuard mode a connection Frida saw that the proxy did not is a leak around the
tunnel (harness.analysis.tunnel_leaks), expected: none. A destination the new capture
leaked to that the baseline did not is reported (`new_tunnel_leak`), a regression unless
lab.yaml's policy.regression.new_tunnel_leak is false: what went there was never read,
and in contained mode it may have left the lab.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd


def leaks_by_key(leaks: pd.DataFrame | None, key: Callable[..., str]) -> dict[str, dict[str, Any]]:
    """destination key (`key(destination, ip, org)`) -> destinations, addresses, apps,
    countries, orgs and whether it is foreign, over the leak rows to it."""
    out: dict[str, dict[str, Any]] = {}
    if leaks is None or leaks.empty:
        return out
    for row in leaks.to_dict("records"):
        org = row.get("org") if isinstance(row.get("org"), str) and row.get("org") else None
        k = key(str(row["destination"]), str(row["ip"]), org)
        d = out.setdefault(k, {"destinations": set(), "addresses": set(), "apps": set(), "countries": set(),
                               "orgs": set(), "foreign": False})
        d["destinations"].add(str(row["destination"]))
        d["addresses"].add(f"{row['ip']}:{int(row['port'])}")
        d["apps"].add(str(row["app"]))
        for col, name in (("country", "countries"), ("org", "orgs")):
            if isinstance(row.get(col), str) and row[col]:
                d[name].add(row[col])
        d["foreign"] = d["foreign"] or "foreign" in str(row.get("flags") or "").split(",")
    return out


def leak_changes(base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], gate: bool) -> list[dict[str, Any]]:
    """The Change fields (harness.diff.compare.Change) of each destination the new side
    leaked to and the baseline did not."""
    out = []
    for k in sorted(set(new) - set(base)):
        d = new[k]
        where = (f"{', '.join(sorted(d['destinations']))} ({', '.join(sorted(d['addresses']))}; "
                 f"{','.join(sorted(d['countries'])) or '?'}, {', '.join(sorted(d['orgs'])) or '?'})")
        out.append({"kind": "new_tunnel_leak", "components": tuple(sorted(d["apps"])),
                    "subject": ", ".join(sorted(d["destinations"])),
                    "detail": f"new connection around the WireGuard tunnel (leak) to {where}",
                    "rule": "new_tunnel_leak" if gate else None,
                    "data": {"key": k, "foreign": d["foreign"], "addresses": sorted(d["addresses"])}})
    return out
