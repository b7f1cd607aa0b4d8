"""The ADB transport's wire format: 24-byte message headers, commands, versions.

Facts from AOSP adb (protocol.txt, adb.h): every field is a little-endian uint32;
`magic` is `command ^ 0xffffffff`; `data_check` is the byte sum of the payload, which
peers at version >= A_VERSION_SKIP_CHECKSUM neither send nor verify.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
A_STLS = 0x534C5453

A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
A_VERSION = 0x01000001
MAX_PAYLOAD = 1024 * 1024
MAX_PAYLOAD_V1 = 4 * 1024

KNOWN_COMMANDS = frozenset({A_SYNC, A_CNXN, A_OPEN, A_OKAY, A_CLSE, A_WRTE, A_AUTH, A_STLS})
HEADER = struct.Struct("<6I")
NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE",
         A_WRTE: "WRTE", A_AUTH: "AUTH", A_STLS: "STLS"}


class ProtocolError(Exception):
    """The peer sent something that is not an ADB message; the connection is closed."""


@dataclass(frozen=True, slots=True)
class Header:
    command: int
    arg0: int
    arg1: int
    length: int
    check: int

    @property
    def name(self) -> str:
        return NAMES.get(self.command, f"0x{self.command:08x}")


def checksum(data: bytes) -> int:
    return sum(data) & 0xFFFFFFFF


def parse_header(raw: bytes, max_payload: int) -> Header:
    """Validate a 24-byte header; raise ProtocolError on a bad magic, command or length."""
    command, arg0, arg1, length, check, magic = HEADER.unpack(raw)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic 0x{magic:08x} for command 0x{command:08x}")
    if command not in KNOWN_COMMANDS:
        raise ProtocolError(f"unknown command 0x{command:08x}")
    if length > max_payload:
        raise ProtocolError(f"payload length {length} exceeds {max_payload}")
    return Header(command, arg0, arg1, length, check)


def pack(command: int, arg0: int, arg1: int, data: bytes = b"", with_checksum: bool = True) -> bytes:
    check = checksum(data) if with_checksum else 0
    return HEADER.pack(command, arg0, arg1, len(data), check, command ^ 0xFFFFFFFF) + data
