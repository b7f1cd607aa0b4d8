"""A diff's changes as requirements: which requirement each change concerns, and the
JUnit test cases named after them.

The requirements are the new side's table (harness.analysis.standards: the shipped one as
the captures' lab extended or replaced it, for its jurisdiction). A change maps to the
findings it amounts to (its triggers: a new foreign destination receiving an identifier
is `data_sent identifier_sent data_abroad`), and through them to the requirement ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from harness.analysis.datatypes import is_identifier

FLAG_TRIGGERS = ("cleartext", "tls_rejected", "bypassed_proxy", "watchlist_country", "foreign", "mixed_script")


def _data_triggers(types: Iterable[Any]) -> list[str]:
    types = [str(t) for t in types]
    if not types:
        return []
    out = ["data_sent"]
    if any(is_identifier(t) for t in types):
        out.append("identifier_sent")
    if any(not is_identifier(t) for t in types):
        out.append("personal_data_sent")
    return out


def change_triggers(kind: str, rule: str | None, data: dict[str, Any]) -> list[str]:
    """The findings a change (harness.diff.compare.Change: its kind, rule and data) amounts
    to, as harness.config.requirements.Trigger values."""
    data = data or {}
    foreign = bool(data.get("foreign"))
    if kind == "new_destination":
        types = data.get("data_types") or []
        return _data_triggers(types) + (["data_abroad"] if foreign and types else ["foreign"] if foreign else [])
    if kind == "new_data_type":
        return _data_triggers([data.get("data_type", "")]) + (["data_abroad"] if foreign else [])
    if kind == "new_country":
        return ["watchlist_country", "foreign"] if rule == "new_watchlist_country" else ["foreign"]
    if kind == "new_dns_lookup":  # a name seen only through DNS (diff/lookups.py)
        return ["watchlist_country"] if data.get("watchlist") else []
    if kind == "new_tunnel_leak":  # a connection around the capture, unread
        return ["bypassed_proxy"] + (["foreign"] if foreign else [])
    if kind == "new_cleartext_with_data":
        return ["cleartext_data", "cleartext"]
    if kind == "flags_changed":
        return [f for f in data.get("gained", []) if f in FLAG_TRIGGERS]
    if kind == "coverage_change":
        base, new = data.get("baseline") or {}, data.get("new") or {}
        return ["tls_rejected"] if new.get("tls_rejected", 0) > base.get("tls_rejected", 0) else []
    return []


def requirement_ids(kind: str, rule: str | None, data: dict[str, Any], table: pd.DataFrame) -> tuple[str, ...]:
    """The ids of the requirements (rows of a requirements frame) a change concerns."""
    wanted = set(change_triggers(kind, rule, data))
    if not wanted or table.empty:
        return ()
    return tuple(str(r.requirement) for r in table.itertuples(index=False)
                 if wanted.intersection(str(r.applies_to).split()))


def requirement_rows(table: pd.DataFrame) -> list[dict[str, str]]:
    """id, standard, title of each requirement, in table order."""
    if table.empty:
        return []
    return [{"id": str(r.requirement), "standard": str(r.standard), "title": str(r.title)}
            for r in table.itertuples(index=False)]
