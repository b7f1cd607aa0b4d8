"""run.json: the capture's manifest, its artifact hashes and its signature.

The manifest is written last and atomically. It lists the sha256 of every artifact in
the capture folder (harness.capture.contents: its plain files but run.json and report/,
which `lab report` writes later). `lab verify` (harness.capture.integrity) checks it. An
optional Ed25519 signature by the lab's key covers the canonical JSON of the manifest
without its `signature` field, so a report can prove which lab produced the evidence.

A signature proves something only against a key the verifier trusts: the manifest
carries its signer's public key, and anyone can re-sign an edited manifest with a key
of their own. So `lab verify` given a trusted key (`--key PUB`, or the lab's `signing_key`)
requires a signature by exactly that key (`missing`, `invalid` and `untrusted-key`
fail); with no trusted key a self-consistent signature is only `unchecked`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.capture.contents import capture_contents
from harness.capture.folder import (
    FORMAT,
    FORMAT_VERSION,
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
    """Every file of the capture that the manifest covers, as relative POSIX paths: its
    plain files, dotfiles too, but run.json and report/ (harness.capture.contents)."""
    return capture_contents(run_dir).plain


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


def public_key_path(signing_key: Path) -> Path:
    """Where `generate_signing_key` writes the public key of `signing_key`."""
    return signing_key.with_suffix(".pub.pem")


def lab_public_key(signing_key: Path) -> bytes:
    """The raw public key of a lab's signing key: derived from the private key, or read
    from the .pub.pem beside it (an auditor's copy of lab.yaml may come without the
    private key)."""
    if signing_key.is_file():
        return _public_raw(load_signing_key(signing_key).public_key())
    pub = public_key_path(signing_key)
    if pub.is_file():
        return load_public_key(pub)
    raise CaptureError(
        f"the lab signs its runs with {signing_key}, but neither it nor {pub.name} can be read: "
        "give the lab's public key with --key"
    )


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


def load_public_key(path: Path) -> bytes:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as e:
        raise CaptureError(f"{path}: not a readable PEM public key ({e})") from e
    if not isinstance(key, Ed25519PublicKey):
        raise CaptureError(f"{path}: not an Ed25519 public key")
    return _public_raw(key)


def check_signature(manifest: dict[str, Any], trusted: bytes | None) -> tuple[str, str | None]:
    """(state, fingerprint of the key that signed) of run.json's signature.

    state: absent (none, and no key required), missing (none, but `trusted` given),
    invalid, untrusted-key (valid, by another key than `trusted`), valid (by `trusted`),
    unchecked (valid by its own key; no `trusted` key to hold it to). The fingerprint is
    computed from the key in the signature, never taken from its `key_id` (anyone can
    write that)."""
    signature = manifest.get("signature")
    if signature is None:
        return ("absent" if trusted is None else "missing"), None
    if not isinstance(signature, dict):
        return "invalid", None
    try:
        raw = base64.b64decode(signature["public_key"], validate=True)
        value = base64.b64decode(signature["value"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, ValueError, TypeError):
        return "invalid", None
    try:
        key.verify(value, _canonical(manifest))
    except InvalidSignature:
        return "invalid", key_fingerprint(raw)
    if trusted is None:
        return "unchecked", key_fingerprint(raw)
    return ("valid" if raw == trusted else "untrusted-key"), key_fingerprint(raw)
