"""run.json: artifact hashes, verification, signing, format versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.capture.folder import FORMAT_VERSION, JsonlWriter
from harness.capture.integrity import verify
from harness.capture.manifest import (
    generate_signing_key,
    lab_public_key,
    read_manifest,
    write_manifest,
)
from harness.cli.main import main
from harness.errors import CaptureError


def _capture(tmp_path: Path) -> Path:
    run = tmp_path / "run-1"
    run.mkdir()
    with JsonlWriter(run / "flows.jsonl") as w:
        w.write({"id": "f1", "host": "a.example"})
        w.write({"id": "f2", "host": "b.example"})
    (run / "canaries.json").write_text('{"identifiers": {}}')
    (run / "report").mkdir()
    (run / "report" / "report.html").write_text("<html></html>")
    write_manifest(run, {"run_id": "run-1", "status": "ok"})
    return run


def test_manifest_lists_every_artifact_but_reports(tmp_path):
    run = _capture(tmp_path)
    manifest = read_manifest(run)
    assert set(manifest["artifacts"]) == {"flows.jsonl", "canaries.json"}
    assert manifest["format_version"] == FORMAT_VERSION
    assert verify(run).ok


def test_one_changed_byte_fails_and_names_the_artifact(tmp_path):
    run = _capture(tmp_path)
    data = bytearray((run / "flows.jsonl").read_bytes())
    data[10] ^= 0x01
    (run / "flows.jsonl").write_bytes(bytes(data))
    result = verify(run)
    assert not result.ok
    assert result.changed == ["flows.jsonl"]


def test_missing_and_unlisted_artifacts_are_named(tmp_path):
    run = _capture(tmp_path)
    (run / "canaries.json").unlink()
    (run / "extra.bin").write_bytes(b"x")
    result = verify(run)
    assert result.missing == ["canaries.json"]
    assert result.unlisted == ["extra.bin"]


def test_signed_manifest_verifies_and_detects_tampering(tmp_path):
    key = tmp_path / "keys" / "lab.pem"
    pub = generate_signing_key(key)
    run = tmp_path / "run"
    run.mkdir()
    (run / "flows.jsonl").write_text("{}\n")
    write_manifest(run, {"run_id": "r", "status": "ok"}, signing_key=key)
    assert verify(run, pub).signature == "valid"
    other = generate_signing_key(tmp_path / "other.pem")
    assert verify(run, other).signature == "untrusted-key"
    manifest = json.loads((run / "run.json").read_text())
    manifest["status"] = "ok-but-edited"
    (run / "run.json").write_text(json.dumps(manifest))
    assert verify(run, pub).signature == "invalid"
    assert not verify(run, pub).ok


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ('{"format": "something-else"}', "not a lab-harness capture"),
    ('{"format": "lab-harness-capture", "format_version": 99}', "newer"),
])
def test_foreign_or_newer_manifests_are_refused(tmp_path, content, message):
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(CaptureError, match=message):
        read_manifest(tmp_path)


def test_lab_verify_exit_codes(tmp_path):
    run = _capture(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", str(run)])
    assert ok.exit_code == 0, ok.output
    (run / "flows.jsonl").write_text("tampered\n")
    bad = runner.invoke(main, ["verify", str(run)])
    assert bad.exit_code == 1
    assert "changed: flows.jsonl" in bad.output
    not_capture = runner.invoke(main, ["verify", str(tmp_path / "nope")])
    assert not_capture.exit_code == 2
    assert "not a folder" in not_capture.output


def test_lab_keygen_then_signed_manifest_verifies_with_the_public_key(tmp_path):
    runner = CliRunner()
    key = tmp_path / "lab.pem"
    made = runner.invoke(main, ["keygen", str(key)])
    assert made.exit_code == 0, made.output
    pub = Path(made.output.strip())
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(main, ["keygen", str(key)])
    assert again.exit_code == 2 and "already exists" in again.output
    run = tmp_path / "run"
    run.mkdir()
    (run / "flows.jsonl").write_text("{}\n")
    write_manifest(run, {"run_id": "r", "status": "ok"}, signing_key=key)
    checked = runner.invoke(main, ["verify", str(run), "--key", str(pub)])
    assert checked.exit_code == 0 and "signature: valid" in checked.output


def _signed_lab(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A lab that signs its runs (lab.yaml in tmp_path, key under keys/) and one signed run."""
    key = tmp_path / "keys" / "lab.pem"
    generate_signing_key(key)
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: signing lab\njurisdiction: IN\nsigning_key: {key}\nstate_dir: {tmp_path / 'state'}\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "flows.jsonl").write_text('{"id": "f1"}\n')
    write_manifest(run, {"run_id": "r", "status": "ok"}, signing_key=key)
    return lab, key, run


def test_lab_verify_checks_the_labs_signature(tmp_path, monkeypatch):
    lab, _, run = _signed_lab(tmp_path)
    monkeypatch.chdir(tmp_path)  # lab.yaml of the working folder, as `lab verify RUN` finds it
    checked = CliRunner().invoke(main, ["verify", str(run)])
    assert checked.exit_code == 0, checked.output
    assert "signature: valid, by the lab's key sha256:" in checked.output
    explicit = CliRunner().invoke(main, ["verify", str(run), "--lab", str(lab)])
    assert explicit.exit_code == 0, explicit.output


def test_a_stripped_signature_fails_when_the_lab_signs(tmp_path, monkeypatch):
    lab, key, run = _signed_lab(tmp_path)
    manifest = json.loads((run / "run.json").read_text())
    del manifest["signature"]
    (run / "run.json").write_text(json.dumps(manifest))
    assert verify(run, lab_public_key(key)).signature == "missing"
    monkeypatch.chdir(tmp_path)
    for args in (["verify", str(run)], ["verify", str(run), "--lab", str(lab)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert "signature: MISSING" in result.output and f"{run}: FAILED" in result.output


def test_a_manifest_re_signed_with_another_key_fails(tmp_path, monkeypatch):
    lab, key, run = _signed_lab(tmp_path)
    forger = tmp_path / "forger.pem"
    generate_signing_key(forger)
    (run / "flows.jsonl").write_text('{"id": "f1", "edited": true}\n')
    manifest = json.loads((run / "run.json").read_text())
    write_manifest(run, manifest, signing_key=forger)  # re-hashed and re-signed by someone else
    result = verify(run, lab_public_key(key))
    assert (result.signature, result.ok) == ("untrusted-key", False)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["verify", str(run)])
    assert out.exit_code == 1, out.output
    assert "signature: FOREIGN KEY" in out.output and "signature: valid" not in out.output


def test_without_a_lab_key_a_signature_is_not_called_valid(tmp_path, monkeypatch):
    _, _, run = _signed_lab(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no lab.yaml here, no --key
    result = CliRunner().invoke(main, ["verify", str(run)])
    assert result.exit_code == 0, result.output
    assert "not checked" in result.output and "signature: valid" not in result.output
    assert verify(run).signature == "unchecked"


def test_the_labs_public_key_comes_from_the_pub_pem_without_the_private_key(tmp_path):
    _, key, run = _signed_lab(tmp_path)
    raw = lab_public_key(key)
    key.unlink()  # an auditor's copy: lab.yaml and keys/lab.pub.pem only
    assert lab_public_key(key) == raw
    assert verify(run, raw).signature == "valid"
    (tmp_path / "keys" / "lab.pub.pem").unlink()
    with pytest.raises(CaptureError, match="give the lab's public key with --key"):
        lab_public_key(key)
