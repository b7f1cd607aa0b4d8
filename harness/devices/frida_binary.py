"""The frida-server binary for a handset, chosen and checked on this machine before any push.

lab.yaml's `devices[].frida_server` names either one binary or a folder of release assets
named `frida-server-<version>-android-<arch>[.xz]` (frida-server.md: arm64-v8a -> arm64,
armeabi-v7a -> arm, x86, x86_64). From a folder the asset of the Python frida's version
and the handset's `ro.product.cpu.abi` is picked. Either way a binary is refused when its
name says another version, or when its ELF header (class and e_machine) is not the
handset's ABI; `.xz` assets are unpacked here (lzma), never on the handset.
"""

from __future__ import annotations

import lzma
import re
from dataclasses import dataclass
from pathlib import Path

from harness.devices.elf import HEADER_BYTES, NotElfError, parse_header
from harness.errors import InstrumentError

ARCH = {"arm64-v8a": "arm64", "armeabi-v7a": "arm", "armeabi": "arm", "x86": "x86", "x86_64": "x86_64"}
ASSET = re.compile(r"frida-server-(?P<version>\d+\.\d+\.\d+)-android-(?P<arch>arm64|arm|x86_64|x86)(?P<xz>\.xz)?")
XZ_MAGIC = b"\xfd7zXZ\x00"
MAX_UNPACKED = 512 * 1024 * 1024  # frida-server is ~50 MB unpacked: anything far larger is not one


def asset_name(abi: str, version: str, xz: bool = True) -> str:
    """The release asset for a handset ABI and a frida version."""
    return f"frida-server-{version}-android-{ARCH.get(abi, abi or 'ARCH')}" + (".xz" if xz else "")


@dataclass(frozen=True)
class ServerBinary:
    """One frida-server file on this machine, with what its name says (None: no release name)."""

    path: Path
    version: str | None
    arch: str | None

    @property
    def packed(self) -> bool:
        return self.path.name.endswith(".xz")


def describe(path: Path) -> ServerBinary:
    match = ASSET.fullmatch(path.name)
    if match is None:
        return ServerBinary(path, None, None)
    return ServerBinary(path, match.group("version"), match.group("arch"))


def choose(configured: Path, abi: str, version: str) -> ServerBinary:
    """The binary lab.yaml names, or the asset for `abi` and `version` in the folder it
    names; InstrumentError (saying what to download) when the folder has none."""
    configured = Path(configured)
    if not configured.is_dir():
        return describe(configured)
    if abi not in ARCH:
        raise InstrumentError(f"the handset's ABI {abi!r} has no frida-server release; "
                              f"known: {', '.join(sorted(ARCH))}")
    try:
        found = sorted((describe(p) for p in configured.iterdir() if ASSET.fullmatch(p.name)),
                       key=lambda b: b.path.name)
    except OSError as e:
        raise InstrumentError(f"cannot list the frida-server folder {configured}: {e}") from e
    wanted = [b for b in found if b.version == version and b.arch == ARCH[abi]]
    if wanted:
        return min(wanted, key=lambda b: b.packed)  # an unpacked copy saves the unpacking
    listed = ", ".join(b.path.name for b in found) or "no frida-server-<version>-android-<arch>[.xz] file"
    raise InstrumentError(
        f"{configured} holds no {asset_name(abi, version, xz=False)}[.xz] for this {abi} handset "
        f"and the Python frida {version} (it holds: {listed}); download {asset_name(abi, version)} "
        f"from https://github.com/frida/frida/releases/tag/{version} into it"
    )


def check_name(binary: ServerBinary, abi: str, version: str) -> None:
    """Refuse a binary whose release name says another version or architecture."""
    if binary.version is not None and binary.version != version:
        raise InstrumentError(
            f"{binary.path.name} is frida-server {binary.version}, but the Python frida is {version}: "
            f"use {asset_name(abi, version)}"
        )
    if binary.arch is not None and abi in ARCH and binary.arch != ARCH[abi]:
        raise InstrumentError(
            f"{binary.path.name} is for android-{binary.arch}, but the handset is {abi}: "
            f"use {asset_name(abi, version)}"
        )


def check_header(data: bytes, abi: str, version: str, where: str) -> None:
    """Refuse bytes that are not an executable for exactly the handset's ABI."""
    try:
        header = parse_header(data[:HEADER_BYTES])
    except NotElfError as e:
        raise InstrumentError(f"{where} is not a frida-server executable ({e}): use "
                              f"{asset_name(abi, version)}, unpacked") from e
    if not header.runs_on(abi):
        raise InstrumentError(
            f"{where} is a {header.describe()} ({header.abi or 'no Android ABI'}), but the handset is "
            f"{abi}: use {asset_name(abi, version)}"
        )


def load(binary: ServerBinary, abi: str, version: str) -> bytes:
    """The executable's bytes, unpacked if .xz, after the name and ELF header checks."""
    check_name(binary, abi, version)
    try:
        data = binary.path.read_bytes()
    except OSError as e:
        raise InstrumentError(f"cannot read the frida-server binary {binary.path}: {e}") from e
    if data.startswith(XZ_MAGIC):
        data = unpack_xz(data, binary.path)
    check_header(data, abi, version, str(binary.path))
    return data


def unpack_xz(data: bytes, path: Path) -> bytes:
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    try:
        out = decompressor.decompress(data, max_length=MAX_UNPACKED)
    except lzma.LZMAError as e:
        raise InstrumentError(f"cannot unpack {path}: {e}") from e
    if not decompressor.eof:
        raise InstrumentError(f"cannot unpack {path}: truncated, or larger than {MAX_UNPACKED >> 20} MB unpacked")
    return out
