"""The virtual apps' jar: the Java tree under harness/virtual/java compiled on first use.

SDK classes named by handset behaviours (com.vendor.analytics.Tracker, ...) are generated
from templates/sdk_class.txt, so a Java stack trace names the SDK that read a value. The
jar is cached under the user's cache directory (the newest dozen are kept), keyed by a
hash of every source; a build
compiles in a private temp directory and renames the jar into place atomically, so
concurrent first uses are safe. The jar names, in labvirt-native.txt, the folder of the
native TLS libraries (native.py) relative to its own; they are built alongside, when the
machine can build them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from harness.virtual.apps.behaviours import DEFAULT_SDK
from harness.virtual.apps.native import SOURCE as NATIVE_SOURCE
from harness.virtual.apps.native import ensure_native, native_key
from harness.virtual.internet.ca import cache_dir

JAVA_DIR = Path(__file__).resolve().parent.parent / "java"
SOURCES = JAVA_DIR / "src"
TEMPLATE = JAVA_DIR / "templates" / "sdk_class.txt"
NATIVE_DIR_RESOURCE = "labvirt-native.txt"


class JarBuildError(RuntimeError):
    """javac failed or is missing."""


def _sources() -> list[Path]:
    return sorted(SOURCES.rglob("*.java"))


def _generated(sdk_classes: set[str]) -> dict[str, str]:
    """relative path -> Java source of every generated SDK class."""
    template = TEMPLATE.read_text(encoding="utf-8")
    out = {}
    for cls in sorted(sdk_classes | {DEFAULT_SDK}):
        package, _, name = cls.rpartition(".")
        out[cls.replace(".", "/") + ".java"] = template.replace("@PACKAGE@", package).replace("@NAME@", name)
    return out


def jar_key(sdk_classes: set[str]) -> str:
    h = hashlib.sha256()
    for p in _sources():
        h.update(str(p.relative_to(SOURCES)).encode() + b"\0" + p.read_bytes() + b"\0")
    for rel, text in _generated(sdk_classes).items():
        h.update(rel.encode() + b"\0" + text.encode() + b"\0")
    h.update(b"native\0" + NATIVE_SOURCE.read_bytes())
    return h.hexdigest()[:20]


def build_jar(sdk_classes: set[str], javac: str | None = None) -> Path:
    """The cached jar holding the stubs, the runtime and the given SDK classes."""
    jars = cache_dir() / "jars"
    jars.mkdir(parents=True, exist_ok=True)
    target = jars / f"apps-{jar_key(sdk_classes)}.jar"
    if target.exists():
        ensure_native(javac)
        return target
    javac = javac or shutil.which("javac")
    if javac is None:
        raise JarBuildError("javac not found: the virtual apps need a JDK (17 or newer)")
    with tempfile.TemporaryDirectory(dir=jars, prefix=".build-") as tmp:
        work = Path(tmp)
        gen = work / "gen"
        files = [str(p) for p in _sources()]
        for rel, text in _generated(sdk_classes).items():
            path = gen / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        classes = work / "classes"
        proc = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-encoding", "UTF-8", "-g", "-d", str(classes), *files],
            capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise JarBuildError(f"javac failed: {proc.stderr.strip()[-2000:]}")
        tmp_jar = work / "apps.jar"
        with zipfile.ZipFile(tmp_jar, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: lab-harness\r\n\r\n")
            z.writestr(NATIVE_DIR_RESOURCE, f"../native/{native_key()}\n")
            for f in sorted(classes.rglob("*.class")):
                z.write(f, f.relative_to(classes).as_posix())
        os.replace(tmp_jar, target)
    _prune(jars, keep=target)
    ensure_native(javac)
    return target


def _prune(jars: Path, keep: Path, newest: int = 12, min_age: float = 3600.0) -> None:
    """Drop jars (and their class-data archives) beyond the newest few, once an hour old."""
    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # pruned meanwhile by another process
            return 0.0

    now = time.time()
    found = sorted(jars.glob("apps-*.jar"), key=mtime, reverse=True)
    for old in found[newest:]:
        if old != keep and now - mtime(old) > min_age:
            old.unlink(missing_ok=True)
            old.with_suffix(".jsa").unlink(missing_ok=True)
