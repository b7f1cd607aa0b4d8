"""Small synthetic ELF files: just a header for an Android ABI, plus the version marker
the virtual handset's frida-server answers `--version` from (frida-server-X.Y.Z)."""

from __future__ import annotations

import lzma
from pathlib import Path

# Android ABI -> (EI_CLASS, e_machine), as in the ELF specification
ABI_ELF = {"arm64-v8a": (2, 183), "armeabi-v7a": (1, 40), "x86_64": (2, 62), "x86": (1, 3)}


def elf_header(abi: str) -> bytes:
    elf_class, machine = ABI_ELF[abi]
    ident = b"\x7fELF" + bytes([elf_class, 1, 1, 0]) + bytes(8)  # little endian, version 1
    return ident + (3).to_bytes(2, "little") + machine.to_bytes(2, "little") + bytes(44)


def server_bytes(abi: str, version: str) -> bytes:
    return elf_header(abi) + f"\0frida-server-{version}\0".encode() + bytes(64)


def write_server(folder: Path, abi: str, version: str, *, name: str | None = None, xz: bool = False) -> Path:
    """A frida-server release asset (or any name) for `abi` and `version` in `folder`."""
    arch = {"arm64-v8a": "arm64", "armeabi-v7a": "arm", "x86_64": "x86_64", "x86": "x86"}[abi]
    path = Path(folder) / (name or f"frida-server-{version}-android-{arch}" + (".xz" if xz else ""))
    data = server_bytes(abi, version)
    path.write_bytes(lzma.compress(data, format=lzma.FORMAT_XZ) if xz else data)
    return path
