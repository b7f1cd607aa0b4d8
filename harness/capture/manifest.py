"""run.json: the capture's manifest, its artifact hashes, signing, and `lab verify`.

The manifest is written last and atomically. It lists the sha256 of every artifact in
the capture folder (report/ excluded: reports are derived and rewritten freely). An
optional Ed25519 signature by the lab's key covers the canonical JSON of the manifest
without its `signature` field, so a report can prove which lab produced the evidence.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.capture.folder import (
    FORMAT,
    FORMAT_VERSION,
    REPORT_DIR,
    RUN_JSON,
    read_json,
    write_json_atomic,
)
from harness.errors import CaptureError

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_names(run_dir: Path) -> list[str]:
    """Every file of the capture that the manifest covers, as relative POSIX paths."""
    names = []
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if not path.is_file() or rel.parts[0] in (RUN_JSON, REPORT_DIR) or rel.name.startswith("."):
            continue
        names.append(rel.as_posix())
    return names


def hash_artifacts(run_dir: Path) -> dict[str, str]:
    return {name: sha256_file(run_dir / name) for name in artifact_names(run_dir)}


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise CaptureError(f"{path}: not a readable PEM private key ({e})") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise CaptureError(f"{path}: the lab signing key must be Ed25519")
    return key


def generate_signing_key(path: Path) -> Path:
    """Write a new Ed25519 private key (0600) and its public key next to it (.pub.pem)."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    path.chmod(0o600)
    pub = path.with_suffix(".pub.pem")
    pub.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))
    return pub


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(raw_public: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw_public).hexdigest()[:32]


def write_manifest(run_dir: Path, manifest: dict[str, Any], signing_key: Path | None = None) -> dict[str, Any]:
    """Hash every artifact, sign if a key is given, and write run.json atomically."""
    manifest = dict(manifest)
    manifest["format"] = FORMAT
    manifest["format_version"] = FORMAT_VERSION
    manifest["artifacts"] = hash_artifacts(run_dir)
    manifest.pop("signature", None)
    if signing_key is not None:
        key = load_signing_key(signing_key)
        raw = _public_raw(key.public_key())
        manifest["signature"] = {
            "alg": "ed25519",
            "public_key": base64.b64encode(raw).decode(),
            "key_id": key_fingerprint(raw),
            "value": base64.b64encode(key.sign(_canonical(manifest))).decode(),
        }
    write_json_atomic(run_dir / RUN_JSON, manifest)
    return manifest


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """run.json of a capture; CaptureError if the folder is not a capture we can read."""
    if not run_dir.is_dir():
        raise CaptureError(f"{run_dir}: not a folder")
    if not (run_dir / RUN_JSON).exists():
        raise CaptureError(f"{run_dir}: not a capture (no {RUN_JSON})")
    manifest = read_json(run_dir / RUN_JSON)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CaptureError(f"{run_dir / RUN_JSON}: not a lab-harness capture manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CaptureError(
            f"{run_dir / RUN_JSON}: capture format version {version!r} is newer than this "
            f"harness reads ({FORMAT_VERSION}); upgrade the harness"
        )
    return manifest


@dataclass
class VerifyResult:
    run_dir: Path
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    signature: str = "absent"  # absent | valid | invalid | untrusted-key
    key_id: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unlisted) and self.signature in (
            "absent", "valid",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": str(self.run_dir), "ok": self.ok, "changed": self.changed,
            "missing": self.missing, "unlisted": self.unlisted,
            "signature": self.signature, "key_id": self.key_id,
        }


def _load_public_key(path: Path) -> bytes:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as e:
        raise CaptureError(f"{path}: not a readable PEM public key ({e})") from e
    if not isinstance(key, Ed25519PublicKey):
        raise CaptureError(f"{path}: not an Ed25519 public key")
    return _public_raw(key)


def verify(run_dir: Path, public_key: Path | None = None) -> VerifyResult:
    """Re-hash every artifact; name any that changed, went missing or appeared unlisted."""
    manifest = read_manifest(run_dir)
    result = VerifyResult(run_dir)
    listed = manifest.get("artifacts")
    if not isinstance(listed, dict):
        raise CaptureError(f"{run_dir / RUN_JSON}: no artifact list")
    for name, digest in sorted(listed.items()):
        path = run_dir / name
        if not path.is_file():
            result.missing.append(name)
        elif sha256_file(path) != digest:
            result.changed.append(name)
    result.unlisted = [n for n in artifact_names(run_dir) if n not in listed]
    signature = manifest.get("signature")
    if isinstance(signature, dict):
        result.signature = _check_signature(manifest, signature, public_key)
        result.key_id = signature.get("key_id")
    elif public_key is not None:
        result.signature = "invalid"
    return result


def _check_signature(manifest: dict[str, Any], signature: dict[str, Any], trusted: Path | None) -> str:
    try:
        raw = base64.b64decode(signature["public_key"], validate=True)
        value = base64.b64decode(signature["value"], validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(value, _canonical(manifest))
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return "invalid"
    if trusted is not None and _load_public_key(trusted) != raw:
        return "untrusted-key"
    return "valid"
