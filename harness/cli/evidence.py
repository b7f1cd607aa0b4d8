"""What `lab verify` prints, and the key it holds a capture's signature to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.capture import VerifyResult
from harness.capture.manifest import lab_public_key


def trusted_key(key: Path | None, lab: Any) -> Path | bytes | None:
    """The key a run must be signed by: --key, else the lab's signing_key, else none."""
    if key is not None:
        return key
    signing_key = getattr(lab, "signing_key", None)
    return lab_public_key(signing_key) if signing_key else None


def shown(name: str) -> str:
    """A file name as a terminal may print it: one with control characters is quoted."""
    return name if name.isprintable() else repr(name)


def signature_line(result: VerifyResult) -> str:
    """What `lab verify` says of run.json's signature."""
    signer, trusted = result.key_id or "?", result.trusted_key_id
    return {
        "absent": "none (no lab signing key known: give --key PUB or --lab to require one)",
        "unchecked": f"by key {signer}, not checked: no lab key to check it against (give --key PUB or --lab)",
        "valid": f"valid, by the lab's key {trusted}",
        "missing": f"MISSING: run.json must be signed by {trusted} but has no signature",
        "invalid": f"INVALID: run.json does not match its signature (key {signer}): edited after signing",
        "untrusted-key": f"FOREIGN KEY: signed by {signer}, not by the lab's key {trusted}",
    }.get(result.signature, result.signature)


def verify_lines(result: VerifyResult) -> list[str]:
    """`lab verify`'s report of one capture, its verdict last."""
    lines = [f"changed: {shown(n)}" for n in result.changed]
    lines += [f"missing: {shown(n)}" for n in result.missing]
    lines += [f"not in manifest: {shown(n)}" for n in result.unlisted]
    lines += [f"outside the capture (not checked): {shown(n)}" for n in result.unsafe]
    lines += [f"not a plain file (link, FIFO, device or folder): {shown(n)}" for n in result.not_plain]
    lines += [f"not covered by the manifest (written by lab report): {shown(n)}" for n in result.not_covered]
    if result.flow_files is not None:
        lines += [f"flow files disagree: {line}" for line in result.flow_files.lines()]
    lines.append(f"signature: {signature_line(result)}")
    lines.append(f"{result.run_dir}: {'ok' if result.ok else 'FAILED'}")
    return lines
