"""Two sides captured in different modes: said, so a diff is read with it in mind.

An explicit proxy sees only what apps send to it; full-device capture (WireGuard mode)
also records DNS, raw TCP, UDP and QUIC. A baseline captured one way and a new run the
other differ in what could be seen, not only in what the firmware did: every
destination reached only around a proxy setting shows as new. The change is a note
(not a regression by itself); the destinations it explains are still judged each on
its own, so a baseline should be captured again in the new mode.
"""

from __future__ import annotations

from typing import Any

FULL, UNKNOWN = "wireguard", "unknown"


def modes_of(summary: dict[str, Any]) -> list[str]:
    """The capture modes one side recorded (harness.analysis.flow_kinds.kinds_summary);
    a capture that did not record its mode (older, imported) says nothing either way."""
    said = summary.get("coverage_by_kind") if isinstance(summary, dict) else None
    modes = said.get("capture_modes") if isinstance(said, dict) else None
    return [str(m) for m in modes if m != UNKNOWN] if isinstance(modes, list) else []


def mode_change(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """The Change fields of a capture-mode difference between two summaries, or None."""
    before, after = modes_of(base), modes_of(new)
    if before == after or not (before and after):
        return None
    detail = f"capture mode {', '.join(before)} -> {', '.join(after)}"
    if FULL in set(before) ^ set(after):
        side = "new" if FULL in after else "baseline"
        detail += (f": DNS, raw TCP/UDP and QUIC are recorded only in the {side} captures (full capture), so "
                   "destinations reached around a proxy setting show up as changes; capture the baseline "
                   "again in the same mode to tell the firmware's changes from the capture's")
    return {"kind": "capture_mode_change", "components": ("device",), "subject": "capture mode",
            "detail": detail, "rule": None, "data": {"baseline": before, "new": after}}
