"""The native TLS libraries of the virtual apps (harness/virtual/apps/native.py)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.virtual.apps.native import (
    FAILED,
    NativeBuildError,
    build_native,
    ensure_native,
    native_dir,
)

# NVISO disable-flutter-tls-verification's second x64 pattern of ssl_verify_peer_cert
FLUTTER_X64 = bytes.fromhex("554157415641554154534883EC184989FF488B1F488B43304C8BA0280200004D85E474")


def _dynamic_symbols(path) -> set[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


def test_exported_and_stripped_builds_have_the_shapes_unpinning_meets():
    if shutil.which("nm") is None:
        pytest.skip("nm (binutils) not installed")
    libs = build_native()
    exported = _dynamic_symbols(libs / "libsscronet.so")
    assert {"SSL_set_custom_verify", "SSL_CTX_set_custom_verify",
            "ssl_crypto_x509_session_verify_cert_chain"} <= exported
    assert "ssl_verify_peer_cert" not in exported  # BoringSSL's is internal
    assert _dynamic_symbols(libs / "libflutter.so") == {"Java_com_labvirt_net_NativeTls_exchangeStripped"}
    symtab = subprocess.run(["nm", str(libs / "libflutter.so")], capture_output=True, text=True, check=False)
    assert "no symbols" in symtab.stderr
    assert (libs / "libflutter.so").read_bytes().count(FLUTTER_X64) == 1


def test_a_build_that_cannot_happen_is_recorded_for_the_apps(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HARNESS_CACHE", str(tmp_path))
    with pytest.raises(NativeBuildError, match="gcc failed for libsscronet.so"):
        build_native(gcc="/bin/false")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    target = ensure_native(javac="/nonexistent/bin/javac")
    assert target == native_dir() and target.parent.parent == tmp_path
    assert "gcc not found" in (target / FAILED).read_text()
