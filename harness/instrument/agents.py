"""Agent sources: the JavaScript parts under agents/, joined into one script per session.

Each script Frida loads is one source. It is put together at load time from separate
files: frida-tools' Java bridge (frida 17 no longer builds it into the runtime; frida-tools
ships it as bridges/java.js, which defines `bridge`), then protocol.js (batching, rpc
exports, shared helpers), javacontext.js and javahooks.js (what Java hooks share), then the
parts the profile asks for. C sources under agents/ (CModules) are handed to the agent in its options.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

import frida_tools

from harness.errors import InstrumentError

AGENTS_DIR = Path(__file__).parent / "agents"
PROTOCOL = "protocol.js"
JAVA_FILES = ("javacontext.js", "javahooks.js")


class Part(StrEnum):
    """Agent parts; the values match the profile's hook sets (config.HookSet)."""

    SENSITIVE = "sensitive"
    NETWORK = "network"
    UNPIN = "unpin"


# The bypasses of unpin.js, by the library each defeats (the `library` of unpin:* events).
UNPIN_LIBRARIES = ("okhttp3", "conscrypt", "trustmanager", "conscrypt-ct", "hostname-verifier",
                   "webview", "boringssl-symbol", "boringssl-pattern")


def parse_unpin_libraries(names: Iterable[str] | None) -> tuple[str, ...] | None:
    """Library names -> the bypasses unpin.js applies (None: all of them)."""
    if names is None:
        return None
    out: list[str] = []
    for name in names:
        if name not in UNPIN_LIBRARIES:
            raise InstrumentError(f"unknown unpin library {name!r} (known: {', '.join(UNPIN_LIBRARIES)})")
        if name not in out:
            out.append(name)
    return tuple(out)


def java_bridge_path() -> Path:
    """frida-tools' Java bridge, the one its REPL loads on first use of `Java`."""
    path = Path(frida_tools.__file__).parent / "bridges" / "java.js"
    if not path.is_file():
        raise InstrumentError(
            f"frida-tools' Java bridge is missing ({path}); reinstall frida-tools"
        )
    return path


def part_path(part: Part) -> Path:
    return AGENTS_DIR / f"{part.value}.js"


def parse_parts(names: Iterable[str]) -> tuple[Part, ...]:
    """Hook set names -> parts, in a stable order, without duplicates."""
    wanted: list[Part] = []
    for name in names:
        try:
            part = Part(str(name))
        except ValueError as e:
            known = ", ".join(p.value for p in Part)
            raise InstrumentError(f"unknown hook set {name!r} (known: {known})") from e
        if part not in wanted:
            wanted.append(part)
    return tuple(sorted(wanted, key=list(Part).index))


def agent_source(parts: Iterable[Part], *, java: bool = True) -> str:
    """One script source: [Java bridge] + protocol.js + the Java helpers + each part, with
    file markers. Without the bridge, Java parts are reported as unavailable."""
    files: list[Path] = []
    if java:
        files.append(java_bridge_path())
    files.append(AGENTS_DIR / PROTOCOL)
    files.extend(AGENTS_DIR / name for name in JAVA_FILES)
    files.extend(part_path(p) for p in parts)
    chunks = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InstrumentError(f"cannot read agent file {path}: {e}") from e
        chunks.append(f"\n/* ---- {path.name} ---- */\n{text}\n")
    return "".join(chunks)


def cmodule_source(name: str) -> str:
    """C source of a CModule under agents/ (handed to the agent at init, compiled in the target)."""
    path = AGENTS_DIR / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise InstrumentError(f"cannot read agent file {path}: {e}") from e
