"""The verdict, the evidence and the requirements as the HTML report shows them.

Each verdict line links to its evidence rows (the flows and hook events it rests on, in
the Evidence section) and to its requirements (in the Requirements section), and each
requirement back to the lines that map to it. Anchors are numbered (`v-3`, `ef-12`,
`eh-4`, `req-7`), never made of capture text, so a hostile flow id cannot break out of
an attribute or a fragment. The values shown come from the report's masked tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.analysis.summary import iso

VERDICT_LINES = 300  # lines shown in the HTML (all of them are in verdict.csv)
LINKS_PER_LINE = 10  # evidence links per line (up to EVIDENCE_IDS in verdict.csv)
FLOW_FIELDS = ("ts_start", "app", "method", "url", "destination", "status", "coverage", "request_bytes",
               "response_bytes", "flags")
HOOK_FIELDS = ("ts", "package", "api", "data_type", "library", "value")
CONNECT_FIELDS = ("ts", "app", "destination", "ip", "port", "country", "org", "flags")


@dataclass
class VerdictView:
    lines: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    requirements: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    return str(value)


def verdict_view(verdict: pd.DataFrame, requirements: pd.DataFrame, flows: pd.DataFrame,
                 reads: pd.DataFrame, bypassed: pd.DataFrame) -> VerdictView:
    """The sections' rows from the report's (masked) tables: hook events are reads, or the
    connects that went around the proxy."""
    view = VerdictView(total=len(verdict))
    req_anchor = {str(r): f"req-{i}" for i, r in enumerate(requirements.get("requirement", []), start=1)}
    flow_anchor: dict[str, str] = {}
    hook_anchor: dict[str, str] = {}
    cited: dict[str, list[int]] = {}
    for row in verdict.head(VERDICT_LINES).to_dict("records"):
        n = int(row["n"])
        flow_ids = _text(row["evidence_flows"]).split()
        hook_ids = _text(row["evidence_hooks"]).split()
        links = []
        for ids, anchors, prefix in ((flow_ids, flow_anchor, "ef"), (hook_ids, hook_anchor, "eh")):
            for i in ids[:LINKS_PER_LINE]:
                anchors.setdefault(i, f"{prefix}-{len(anchors) + 1}")
                cited.setdefault(anchors[i], []).append(n)
                links.append({"id": i, "anchor": anchors[i]})
        ids = [r for r in _text(row["requirements"]).split(", ") if r]
        view.lines.append({
            "n": n, "anchor": f"v-{n}", "severity": _text(row["severity"]), "finding": _text(row["finding"]),
            "requirements": [{"id": r, "anchor": req_anchor.get(r)} for r in ids],
            "flow_links": [link for link in links if link["anchor"].startswith("ef")],
            "hook_links": [link for link in links if link["anchor"].startswith("eh")],
            "more_flows": max(int(row["flows"]) - min(len(flow_ids), LINKS_PER_LINE), 0),
            "more_hooks": max(int(row["hook_events"]) - min(len(hook_ids), LINKS_PER_LINE), 0),
        })
    view.evidence = (_evidence(flows, "flow_id", flow_anchor, FLOW_FIELDS, "flow", "ts_start", cited)
                     + _evidence(reads, "hook_id", hook_anchor, HOOK_FIELDS, "hook event", "ts", cited)
                     + _evidence(bypassed, "hook_id", hook_anchor, CONNECT_FIELDS, "hook event (connect)", "ts",
                                 cited))
    for r in requirements.to_dict("records") if len(requirements) else ():
        source = _text(r["source"])
        view.requirements.append({
            "anchor": req_anchor[str(r["requirement"])], "id": _text(r["requirement"]),
            "standard": _text(r["standard"]), "title": _text(r["title"]), "status": _text(r["status"]),
            "lines": [int(x) for x in _text(r["verdict_lines"]).split(", ") if x.isdigit()],
            "source": source, "link": source if source.startswith(("https://", "http://")) else None,
        })
    return view


def _evidence(frame: pd.DataFrame, key: str, anchors: dict[str, str], fields: tuple[str, ...], kind: str,
              ts: str, cited: dict[str, list[int]]) -> list[dict[str, Any]]:
    """The rows of `frame` the lines cite, in the order they were first cited."""
    if not anchors or frame.empty or key not in frame:
        return []
    rows = frame[frame[key].astype(str).isin(anchors)].drop_duplicates(subset=[key])
    by_id = {str(r[key]): r for r in rows.to_dict("records")}
    out = []
    for ident, anchor in anchors.items():
        r = by_id.get(ident)
        if r is None:
            continue
        detail = [f"{f}: {_text(_when(r[f]) if f == ts else r.get(f))}" for f in fields if _text(r.get(f))]
        out.append({"anchor": anchor, "kind": kind, "id": ident, "detail": "; ".join(detail),
                    "lines": sorted(set(cited.get(anchor, [])))})
    return out


def _when(value: Any) -> str:
    """Epoch seconds as a UTC time; a time the table already wrote as text stays as it is."""
    return iso(value) if isinstance(value, int | float) else _text(value)
