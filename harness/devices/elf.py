"""What an ELF header says about the CPU a binary runs on, and Android's ABI names.

A binary runs on a handset when its class (32/64-bit) and machine (e_machine) are those
of the handset's ABI (`ro.product.cpu.abi`). Only the first 20 bytes are needed:
e_ident (magic, class, data, version, OS ABI, padding) then e_type and e_machine.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\x7fELF"
HEADER_BYTES = 20  # e_ident (16) + e_type (2) + e_machine (2)

CLASS_32, CLASS_64 = 1, 2
DATA_LSB, DATA_MSB = 1, 2
EM_386, EM_ARM, EM_X86_64, EM_AARCH64 = 3, 40, 62, 183

# Android ABI -> (class, e_machine)
ABI_ELF: dict[str, tuple[int, int]] = {
    "arm64-v8a": (CLASS_64, EM_AARCH64),
    "armeabi-v7a": (CLASS_32, EM_ARM),
    "armeabi": (CLASS_32, EM_ARM),
    "x86_64": (CLASS_64, EM_X86_64),
    "x86": (CLASS_32, EM_386),
}
_MACHINE_NAMES = {EM_386: "x86", EM_ARM: "arm", EM_X86_64: "x86-64", EM_AARCH64: "aarch64"}


@dataclass(frozen=True)
class ElfHeader:
    elf_class: int  # 1: 32-bit, 2: 64-bit
    data: int  # 1: little endian, 2: big endian
    machine: int  # e_machine

    @property
    def bits(self) -> int:
        return 64 if self.elf_class == CLASS_64 else 32

    @property
    def abi(self) -> str | None:
        """The Android ABI this header is built for (armeabi-v7a for 32-bit ARM), or None."""
        for abi, wanted in ABI_ELF.items():
            if wanted == (self.elf_class, self.machine) and abi != "armeabi":
                return abi
        return None

    def describe(self) -> str:
        machine = _MACHINE_NAMES.get(self.machine, f"e_machine {self.machine}")
        return f"{self.bits}-bit {machine} ELF"

    def runs_on(self, abi: str) -> bool:
        """True when this binary is built for exactly the handset's primary ABI."""
        return ABI_ELF.get(abi) == (self.elf_class, self.machine)


class NotElfError(ValueError):
    """The bytes are not the start of an ELF file (or too short to say)."""


def parse_header(data: bytes) -> ElfHeader:
    """The class, byte order and machine of an ELF file from its first 20 bytes."""
    if len(data) < HEADER_BYTES or not data.startswith(MAGIC):
        raise NotElfError("not an ELF file" if not data.startswith(MAGIC) else "truncated ELF header")
    elf_class, data_order = data[4], data[5]
    if elf_class not in (CLASS_32, CLASS_64) or data_order not in (DATA_LSB, DATA_MSB):
        raise NotElfError(f"ELF header with class {elf_class} and byte order {data_order}")
    machine = int.from_bytes(data[18:20], "little" if data_order == DATA_LSB else "big")
    return ElfHeader(elf_class, data_order, machine)


def parse_od(text: str) -> bytes:
    """Bytes from `od -A n -t x1` output (hex pairs separated by spaces, 16 a line)."""
    out = bytearray()
    for word in text.split():
        if len(word) != 2:
            raise NotElfError(f"unexpected od output: {word!r}")
        try:
            out.append(int(word, 16))
        except ValueError as e:
            raise NotElfError(f"unexpected od output: {word!r}") from e
    return bytes(out)

