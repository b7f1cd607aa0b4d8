"""Whether the handset's kernel would run an ELF file: its class and e_machine must be
one of the handset's ABIs (`ro.product.cpu.abilist`). When not, mksh answers
`/system/bin/sh: PATH: not executable: 64-bit ELF file` (or 32-bit), exit 126: what
phones print for a binary of another architecture (e.g. an x86_64 frida-server pushed
to an arm64 phone, or an arm64 one to a 32-bit phone)."""

from __future__ import annotations

# Android ABI -> (EI_CLASS, e_machine)
ABI_ELF = {"arm64-v8a": (2, 183), "armeabi-v7a": (1, 40), "armeabi": (1, 40), "x86_64": (2, 62), "x86": (1, 3)}


def elf_problem(data: bytes, abilist: str) -> str | None:
    """None when the kernel runs this ELF on a handset with `abilist`, else mksh's reason."""
    if len(data) < 20 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return "not executable: magic 7F45"
    order = "little" if data[5] == 1 else "big"
    found = (data[4], int.from_bytes(data[18:20], order))
    if found in {ABI_ELF[a] for a in abilist.split(",") if a in ABI_ELF}:
        return None
    return f"not executable: {32 if data[4] == 1 else 64}-bit ELF file"
