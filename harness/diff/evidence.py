"""A diff's inputs as evidence: every capture of both sides is verified (harness.capture
.integrity: hashes, plain files, flow files, signature) before anything is compared.

A baseline whose flows.jsonl was edited after its manifest was written would otherwise
decide the verdict: append the new run's flows to it and every regression passes. So
`lab diff` and `lab regress` refuse captures that fail verification (exit 2) unless
given --no-verify, and say in their output and JUnit file which of the two it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.read import check_manifest
from harness.capture import RUN_JSON, verify

SHOWN_PROBLEMS = 5


@dataclass
class CheckedCapture:
    side: str  # baseline | new
    run_dir: Path
    problems: list[str] = field(default_factory=list)  # empty: it verifies
    signature: str = "absent"

    def line(self) -> str:
        problems = "; ".join(self.problems[:SHOWN_PROBLEMS])
        more = f"; ... ({len(self.problems) - SHOWN_PROBLEMS} more)" if len(self.problems) > SHOWN_PROBLEMS else ""
        return f"{self.side} {self.run_dir} fails verification: {problems}{more}"


@dataclass
class Verification:
    """What was checked before a diff: `verified` False means --no-verify."""

    verified: bool = True
    captures: list[CheckedCapture] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckedCapture]:
        return [c for c in self.captures if c.problems]

    @property
    def ok(self) -> bool:
        return self.verified and not self.failed

    def summary(self) -> str:
        """One line for the diff's outputs."""
        if not self.verified:
            return "captures NOT verified (--no-verify): their files may differ from what their manifests say"
        if self.failed:
            return f"{len(self.failed)} of {len(self.captures)} capture(s) fail verification: not compared"
        signatures = ", ".join(sorted({c.signature for c in self.captures}))
        return f"{len(self.captures)} capture(s) verified against their manifests (signatures: {signatures})"

    def refusal(self) -> str:
        """The error message when a capture fails: a line per capture, then what to do."""
        lines = [c.line() for c in self.failed]
        lines.append("not compared: `lab verify RUN` names every problem; --no-verify compares anyway")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "ok": self.ok, "summary": self.summary(),
                "captures": [{"side": c.side, "run": str(c.run_dir), "ok": not c.problems,
                              "problems": c.problems, "signature": c.signature} for c in self.captures]}


def verify_inputs(baseline: Sequence[Path], new: Sequence[Path],
                  public_key: Path | bytes | None = None) -> Verification:
    """Verify each capture folder of both sides (a campaign already split into its
    captures: harness.diff.compare.capture_dirs). A folder that is no capture at all, or
    whose run.json cannot be read, raises CaptureError, as the diff itself would."""
    checked = Verification()
    for side, dirs in (("baseline", baseline), ("new", new)):
        for run_dir in dirs:
            check_manifest(run_dir)
            checked.captures.append(_check(side, run_dir, public_key))
    return checked


def _check(side: str, run_dir: Path, public_key: Path | bytes | None) -> CheckedCapture:
    if not (run_dir / RUN_JSON).exists():  # flows.jsonl alone: an interrupted run
        return CheckedCapture(side, run_dir, ["no run.json (an interrupted run?): nothing to verify against"])
    result = verify(run_dir, public_key)
    return CheckedCapture(side, run_dir, result.problems(), result.signature)
