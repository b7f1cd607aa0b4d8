"""A campaign's baseline pairs judged: firmware A (baseline) against firmware B (new), per
profile and repetition, with `lab diff`'s comparison and the lab's regression policy.

A side that is a handset of the campaign stands for its completed run of that profile
and repetition; a side that is a capture folder stands for itself, for the profile it
recorded. A pair whose run did not complete is `missing`, never judged on half a capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.capture import RUN_JSON, read_json
from harness.capture.store import DONE, RunRecord, Store, run_key
from harness.config import Policy
from harness.config.campaign import LoadedCampaign, PairSide
from harness.diff import diff_captures
from harness.errors import CaptureError


def _capture_profile(folder: Path) -> str | None:
    try:
        manifest = read_json(folder / RUN_JSON)
    except CaptureError:
        return None
    profile = manifest.get("profile") if isinstance(manifest, dict) else None
    return str(profile.get("name")) if isinstance(profile, dict) and profile.get("name") else None


def _side(loaded: LoadedCampaign, store: Store, runs: dict[str, RunRecord], pair: int, name: str,
          side: PairSide, profile: str, repetition: int) -> tuple[Path | None, str]:
    """(capture folder, how it is named) or (None, why there is none)."""
    if side.capture is not None:
        folder = loaded.pair_captures[(pair, name)]
        return folder, str(folder)
    key = run_key(profile, str(side.handset), repetition)
    record = runs.get(key)
    if record is None or record.status != DONE or not record.capture:
        status = record.status if record is not None else "not run"
        return None, f"run {key} did not complete ({status})"
    return store.root / record.capture, record.capture


def _verdict(base: Path, new: Path, policy: Policy) -> dict[str, Any]:
    try:
        result = diff_captures([base], [new], policy)
    except CaptureError as e:
        return {"verdict": "error", "reason": str(e)}
    return {"verdict": "regression" if result.regressions else "ok",
            "regressions": [f"{c.kind}: {c.subject} ({c.rule})" for c in result.regressions],
            "changes": len(result.changes)}


def judge_pairs(loaded: LoadedCampaign, store: Store, runs: dict[str, RunRecord],
                policy: Policy | None) -> list[dict[str, Any]]:
    """One verdict per pair, profile and repetition: ok, regression, missing or error."""
    policy = policy or Policy()
    verdicts: list[dict[str, Any]] = []
    for index, pair in enumerate(loaded.campaign.baselines):
        title = pair.name or f"{pair.baseline.describe()} -> {pair.new.describe()}"
        recorded = {side: _capture_profile(loaded.pair_captures[(index, side)])
                    for side in ("baseline", "new") if (index, side) in loaded.pair_captures}
        profiles = pair.profiles or [p.name for p in loaded.profiles]
        if recorded:  # a capture side was made with one profile: only that one compares
            profiles = [p for p in profiles if p in recorded.values()] or sorted(set(recorded.values()) - {None})
        repetitions = loaded.campaign.repetitions if (pair.baseline.handset or pair.new.handset) else 1
        for profile in profiles:
            for repetition in range(1, repetitions + 1):
                base, base_name = _side(loaded, store, runs, index, "baseline", pair.baseline, profile, repetition)
                new, new_name = _side(loaded, store, runs, index, "new", pair.new, profile, repetition)
                entry: dict[str, Any] = {"pair": title, "profile": profile, "repetition": repetition,
                                         "baseline": base_name, "new": new_name}
                if base is None or new is None:
                    entry.update(verdict="missing", reason=base_name if base is None else new_name)
                else:
                    entry.update(_verdict(base, new, policy))
                verdicts.append(entry)
    return verdicts
