"""New names seen only through DNS, between a baseline and a new capture.

A full-device capture records every DNS lookup (harness.analysis.dns_lookups lists the
names looked up and never connected to). A name the new firmware looks up that the
baseline neither looked up nor connected to is reported:

- a regression (`new_watchlist_lookup`) when its answers are in a watch-list country:
  the code means to talk there (the connection was blocked, failed, or comes later than
  the run), and the lookup told the resolver so; the watch-list policy is what an
  audit fails a firmware on, so it must not hide behind a missing connection;
- else a note (`new_dns_lookup`): handsets look up many names they never use
  (connectivity checks, prefetching, CDN shards), so a lookup alone is not news enough
  to fail a firmware.

A name that was also connected to is a destination and is compared as one
(harness.diff.compare).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

LOOKUP_EVIDENCE = 5


def lookups_by_key(dns_only: pd.DataFrame, key: Any) -> dict[str, dict[str, Any]]:
    """destination key (`key(name)`) -> the DNS-only row of that name (merged per key)."""
    out: dict[str, dict[str, Any]] = {}
    if dns_only is None or dns_only.empty:
        return out
    for r in dns_only.itertuples(index=False):
        k = key(str(r.name))
        row = out.setdefault(k, {"names": [], "countries": set(), "orgs": set(), "apps": set(), "flags": set(),
                                 "lookups": 0, "answers": [], "evidence": []})
        row["names"].append(str(r.name))
        row["countries"] |= {c.strip() for c in str(r.country or "").split(",") if c.strip()}
        row["orgs"] |= {o.strip() for o in str(r.org or "").split(",") if o.strip()}
        row["apps"] |= {a.strip() for a in str(r.apps or "").split(",") if a.strip()}
        row["flags"] |= {f for f in str(r.flags or "").split(",") if f}
        row["lookups"] += int(r.lookups)
        row["answers"] += [a.strip() for a in str(r.answers or "").split(",") if a.strip()]
        row["evidence"] += str(r.evidence or "").split()
    return out


def lookup_changes(base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], known: set[str],
                   watch: set[str], gate: bool) -> list[dict[str, Any]]:
    """The Change fields (kind, components, subject, detail, rule, data) of each new
    DNS-only name; `known`: the baseline's destination keys (a name it connected to)."""
    out = []
    for key in sorted(set(new) - set(base) - known):
        d = new[key]
        watchlisted = "watchlist_country" in d["flags"] or bool(d["countries"] & watch)
        where = f"({', '.join(sorted(d['countries'])) or '?'}, {', '.join(sorted(d['orgs'])) or '?'})"
        answers = ", ".join(dict.fromkeys(d["answers"])) or "no answer"
        label = "new lookup of a watch-list host" if watchlisted else "new DNS lookup"
        detail = (f"{label} {', '.join(d['names'])} -> {answers} {where}, {d['lookups']} time(s), "
                  f"never connected to (DNS only)")
        evidence = d["evidence"][:LOOKUP_EVIDENCE]
        out.append({
            "kind": "new_dns_lookup", "components": tuple(sorted(d["apps"])) or ("unattributed",),
            "subject": ", ".join(d["names"]), "detail": detail,
            "rule": "new_watchlist_lookup" if watchlisted and gate else None,
            "data": {"key": key, "countries": sorted(d["countries"]), "orgs": sorted(d["orgs"]),
                     "watchlist": watchlisted, "lookups": d["lookups"], "answers": list(dict.fromkeys(d["answers"])),
                     "evidence": evidence},
        })
    return out
