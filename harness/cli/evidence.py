"""Evidence at the command line: what `lab verify` prints, the key a capture's signature
is held to, and the verification `lab diff` and `lab regress` make of their inputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from harness.capture import VerifyResult
from harness.capture.manifest import lab_public_key
from harness.diff import Verification, capture_dirs, junit_refused, verify_inputs
from harness.errors import CaptureError


def trusted_key(key: Path | None, lab: Any) -> Path | bytes | None:
    """The key a run must be signed by: --key, else the lab's signing_key, else none."""
    if key is not None:
        return key
    signing_key = getattr(lab, "signing_key", None)
    return lab_public_key(signing_key) if signing_key else None


def verify_lines(result: VerifyResult) -> list[str]:
    """`lab verify`'s report of one capture, its verdict last."""
    return [*result.lines(), f"{result.run_dir}: {'ok' if result.ok else 'FAILED'}"]


def checked_inputs(baseline: Sequence[Path], new: Sequence[Path], *, no_verify: bool, key: Path | None,
                   lab: Any, junit: Path | None) -> Verification:
    """`lab diff`/`lab regress`: verify the captures of both sides before comparing them.

    A capture failing verification is refused with a CaptureError (exit 2) naming it and
    its problems, after the JUnit file (if asked for) says so; --no-verify skips the check
    and says so on stderr (and in the diff's outputs, from the Verification returned)."""
    if no_verify:
        click.echo("lab: captures not verified (--no-verify)", err=True)
        return Verification(verified=False)
    checked = verify_inputs([c for p in baseline for c in capture_dirs(p)],
                            [c for p in new for c in capture_dirs(p)], trusted_key(key, lab))
    if not checked.ok:
        if junit is not None:
            junit.write_text(junit_refused(checked), encoding="utf-8")
        raise CaptureError(checked.refusal())
    return checked
