"""The virtual apps' native TLS libraries: java/native/vtls.c compiled with gcc on first use.

Two builds of the one source, as an app carries them: libsscronet.so exports BoringSSL's
API (SSL_set_custom_verify, SSL_CTX_set_custom_verify, ssl_crypto_x509_session_verify_cert_chain),
libflutter.so exports only its JNI entry and is stripped (found by byte pattern). They
link the machine's OpenSSL (libssl-dev) and include the JDK's jni.h. Cached under the
user's cache directory in native/<key>/, keyed by a hash of the source; a build happens
in a private temp folder renamed into place, so concurrent first uses are safe. A build
that cannot happen (no gcc, no OpenSSL headers) leaves native/<key>/BUILD-FAILED with the
reason, which a native app then reports when it sends.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.virtual.internet.ca import cache_dir

SOURCE = Path(__file__).resolve().parent.parent / "java" / "native" / "vtls.c"
LIBRARIES = {
    "libsscronet.so": ("-O2",),
    "libflutter.so": ("-O2", "-DVTLS_STRIPPED", "-s"),
}
FAILED = "BUILD-FAILED"


class NativeBuildError(RuntimeError):
    """gcc, the OpenSSL headers or the JDK's jni.h are missing, or the build failed."""


def native_key() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:20]


def native_dir() -> Path:
    """Where the libraries of the current source are (or will be) built."""
    return cache_dir() / "native" / native_key()


def _jdk_include(javac: str | None) -> Path:
    javac = javac or shutil.which("javac")
    if javac is None:
        raise NativeBuildError("javac not found: the native apps need a JDK's jni.h")
    include = Path(os.path.realpath(javac)).parent.parent / "include"
    if not (include / "jni.h").is_file():
        raise NativeBuildError(f"no jni.h in {include}")
    return include


def build_native(javac: str | None = None, gcc: str | None = None) -> Path:
    """The folder holding both libraries, built if missing (NativeBuildError when it cannot be)."""
    target = native_dir()
    if all((target / name).is_file() for name in LIBRARIES):
        return target
    gcc = gcc or shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise NativeBuildError("gcc not found: the native TLS apps are built with gcc")
    include = _jdk_include(javac)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        work = Path(tmp) / "out"
        work.mkdir()
        for name, flags in LIBRARIES.items():
            proc = subprocess.run(
                [gcc, "-shared", "-fPIC", *flags, "-o", str(work / name), str(SOURCE),
                 f"-I{include}", f"-I{include / 'linux'}", "-lssl", "-lcrypto"],
                capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode != 0:
                raise NativeBuildError(f"gcc failed for {name} (OpenSSL headers: libssl-dev): "
                                       f"{proc.stderr.strip()[-1500:]}")
        target.mkdir(exist_ok=True)
        for name in LIBRARIES:  # each appears whole (a concurrent build writes the same bytes)
            os.replace(work / name, target / name)
    (target / FAILED).unlink(missing_ok=True)
    return target


def ensure_native(javac: str | None = None) -> Path:
    """build_native(), recording a failure in the folder instead of raising: only the apps
    that use a native stack need the libraries, and they report the reason."""
    try:
        return build_native(javac)
    except (NativeBuildError, OSError, subprocess.SubprocessError) as e:
        target = native_dir()
        target.mkdir(parents=True, exist_ok=True)
        (target / FAILED).write_text(f"{e}\n", encoding="utf-8")
        return target
