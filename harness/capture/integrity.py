"""`lab verify`: does a capture folder still hold exactly what its manifest says?

- every artifact the manifest names is a plain file inside the folder, with the same
  sha256 (`changed`, `missing`); a name that is not a plain relative path inside the
  folder (`../x`, `/etc/x`) is `unsafe` and never opened, and a link, FIFO, device or
  folder where a file should be is `not_plain` (a link is never followed);
- every plain file of the folder is named in the manifest (`unlisted`: dotfiles too),
  and nothing else lives there (`not_plain`);
- report/ is written by `lab report` after the manifest, so no manifest covers it:
  its files are listed as `not_covered` (they do not fail a capture; regenerate them
  with `lab report` rather than trusting a copy);
- flows.jsonl and flows.mitm hold the same flows (harness.capture.flow_files): the
  flow log writes flows.jsonl first, and it is the record; a flow in one and not the
  other is named by id and fails the capture;
- the signature (harness.capture.manifest.check_signature), held to a trusted key when
  one is given.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture.contents import capture_contents, kind_of
from harness.capture.flow_files import FlowFiles, compare_flow_files
from harness.capture.folder import FLOWS_JSONL, FLOWS_MITM, RUN_JSON
from harness.capture.manifest import (
    check_signature,
    key_fingerprint,
    load_public_key,
    read_manifest,
)
from harness.errors import CaptureError

_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SIGNATURE_OK = ("absent", "unchecked", "valid")


@dataclass
class VerifyResult:
    run_dir: Path
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)  # manifest names outside the folder
    not_plain: list[str] = field(default_factory=list)  # links, FIFOs, devices, folders
    not_covered: list[str] = field(default_factory=list)  # report/ files: information only
    flow_files: FlowFiles | None = None  # flows.jsonl against flows.mitm, when both are there
    # absent | unchecked (no trusted key given) | valid | missing | invalid | untrusted-key
    signature: str = "absent"
    key_id: str | None = None  # the key that signed run.json
    trusted_key_id: str | None = None  # the key it had to be signed by, if one was given

    @property
    def ok(self) -> bool:
        failures = (self.changed, self.missing, self.unlisted, self.unsafe, self.not_plain)
        flows_agree = self.flow_files is None or self.flow_files.agree
        return not any(failures) and flows_agree and self.signature in SIGNATURE_OK

    def problems(self) -> list[str]:
        """What fails the capture, a line each (empty when it verifies)."""
        lines = [f"changed: {shown(n)}" for n in self.changed]
        lines += [f"missing: {shown(n)}" for n in self.missing]
        lines += [f"not in manifest: {shown(n)}" for n in self.unlisted]
        lines += [f"outside the capture (not checked): {shown(n)}" for n in self.unsafe]
        lines += [f"not a plain file (link, FIFO, device or folder): {shown(n)}" for n in self.not_plain]
        if self.flow_files is not None:
            lines += [f"flow files disagree: {line}" for line in self.flow_files.lines()]
        if self.signature not in SIGNATURE_OK:
            lines.append(f"signature: {signature_text(self)}")
        return lines

    def lines(self) -> list[str]:
        """Everything `lab verify` says of the capture but its verdict: the problems, the
        report/ files no manifest covers, and the signature, whatever its state."""
        lines = [line for line in self.problems() if not line.startswith("signature: ")]
        lines += [f"not covered by the manifest (written by lab report): {shown(n)}" for n in self.not_covered]
        lines.append(f"signature: {signature_text(self)}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": str(self.run_dir), "ok": self.ok, "changed": self.changed,
            "missing": self.missing, "unlisted": self.unlisted, "unsafe": self.unsafe,
            "not_plain": self.not_plain, "not_covered": self.not_covered,
            "flow_files": self.flow_files.as_dict() if self.flow_files is not None else None,
            "signature": self.signature, "key_id": self.key_id, "trusted_key_id": self.trusted_key_id,
        }


def shown(name: str) -> str:
    """A file name as a terminal may print it: one with control characters is quoted."""
    return name if name.isprintable() else repr(name)


def signature_text(result: VerifyResult) -> str:
    """run.json's signature in words."""
    signer, trusted = result.key_id or "?", result.trusted_key_id
    return {
        "absent": "none (no lab signing key known: give --key PUB or --lab to require one)",
        "unchecked": f"by key {signer}, not checked: no lab key to check it against (give --key PUB or --lab)",
        "valid": f"valid, by the lab's key {trusted}",
        "missing": f"MISSING: run.json must be signed by {trusted} but has no signature",
        "invalid": f"INVALID: run.json does not match its signature (key {signer}): edited after signing",
        "untrusted-key": f"FOREIGN KEY: signed by {signer}, not by the lab's key {trusted}",
    }.get(result.signature, result.signature)


def safe_artifact_name(name: object) -> bool:
    """A relative POSIX path inside the folder: no `..`, `.` or empty part, not absolute."""
    if not isinstance(name, str) or not name or "\0" in name or name == RUN_JSON:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _kind_along(run_dir: Path, name: str) -> str:
    """kind_of the artifact, where each folder on the way must be a real folder too."""
    parts = name.split("/")
    path = run_dir
    for part in parts[:-1]:
        path = path / part
        kind = kind_of(path)
        if kind != "folder":
            return kind
    return kind_of(path / parts[-1])


def _sha256_no_follow(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise CaptureError(f"{path}: cannot read ({e.strerror or e})") from e
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(run_dir: Path, public_key: Path | bytes | None = None) -> VerifyResult:
    """Check a capture folder against its manifest (see the module's docstring).

    `public_key` (a PEM file, or the raw key as `lab_public_key` gives it) is the key
    run.json must be signed by; without one a signature is checked only against itself."""
    trusted = load_public_key(public_key) if isinstance(public_key, Path) else public_key
    manifest = read_manifest(run_dir)
    result = VerifyResult(run_dir)
    listed = manifest.get("artifacts")
    if not isinstance(listed, dict):
        raise CaptureError(f"{run_dir / RUN_JSON}: no artifact list")
    if kind_of(run_dir / RUN_JSON) != "file":
        result.not_plain.append(RUN_JSON)
    for name, digest in sorted(listed.items()):
        if not safe_artifact_name(name):
            result.unsafe.append(name)
            continue
        kind = _kind_along(run_dir, name)
        if kind == "none":
            result.missing.append(name)
        elif kind != "file":
            result.not_plain.append(name)
        elif not (isinstance(digest, str) and _SHA256.match(digest)) or _sha256_no_follow(run_dir / name) != digest:
            result.changed.append(name)
    contents = capture_contents(run_dir)
    result.unlisted = [name for name in contents.plain if name not in listed]
    result.not_plain += [name for name in contents.not_plain if name not in result.not_plain]
    result.not_covered = [name for name in contents.report if name not in listed]
    if kind_of(run_dir / FLOWS_JSONL) == "file" and kind_of(run_dir / FLOWS_MITM) == "file":
        result.flow_files = compare_flow_files(run_dir)
    result.trusted_key_id = key_fingerprint(trusted) if trusted is not None else None
    result.signature, result.key_id = check_signature(manifest, trusted)
    return result
