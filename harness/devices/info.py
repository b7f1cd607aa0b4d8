"""DeviceInfo: what a handset is, read in two round trips.

1. `getprop` (the whole listing, parsed: `[key]: [value]`, values may span lines);
2. one probe line: `uname -r`, `id`, `su -c id`, `su 0 id`, and `frida-server --version`
   when a frida-server process runs, separated by echo markers (stdout only: shell v2
   keeps stderr apart, so "su: not found" cannot confuse the parse).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from harness.devices.paths import FRIDA_SERVER_PATH
from harness.devices.shellquote import W, cmd, commands

_PROP_START = re.compile(r"^\[([^\]]*)\]: \[(.*)$")
_UID = re.compile(r"\buid=(\d+)")
MARK = "@@lab-probe@@"


class RootMethod(StrEnum):
    """How this handset runs a command as root (id-su-whoami.txt)."""

    NONE = "none"
    ADBD = "adbd"  # adbd itself runs as root (`adb root`, userdebug builds)
    SU_C = "su -c"  # Magisk/SuperSU: su -c 'cmd'
    SU_0 = "su 0"  # AOSP userdebug su: rejects -c; su 0 sh -c 'cmd'


@dataclass(frozen=True)
class DeviceInfo:
    serial: str
    manufacturer: str
    model: str
    device: str
    fingerprint: str
    build_id: str
    android_release: str
    sdk: int
    security_patch: str
    kernel: str
    abi: str
    rooted: bool
    root_method: str
    frida_server_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_getprop(text: str) -> dict[str, str]:
    """Parse a full `getprop` listing (old and new sort orders; multi-line values)."""
    props: dict[str, str] = {}
    key: str | None = None
    parts: list[str] = []
    for raw in text.splitlines():
        line = raw.strip() if key is None else raw.rstrip("\r")
        if key is None:
            match = _PROP_START.match(line)
            if not match:
                continue
            key, rest = match.group(1), match.group(2)
            parts = [rest]
        else:
            parts.append(line)
        if parts[-1].endswith("]"):
            value = "\n".join(parts)
            props[key] = value[:-1]
            key, parts = None, []
    return props


def parse_uid(id_output: str) -> int | None:
    """`uid=2000(shell) gid=...` -> 2000; None when the text is not `id` output."""
    match = _UID.search(id_output)
    return int(match.group(1)) if match else None


def split_probe(stdout: str) -> list[str]:
    """Sections of a probe's stdout, separated by MARK lines."""
    sections: list[list[str]] = [[]]
    for line in stdout.splitlines():
        if line.strip() == MARK:
            sections.append([])
        else:
            sections[-1].append(line)
    return ["\n".join(s).strip() for s in sections]


def root_from_ids(shell_id: str, su_c_id: str, su_0_id: str) -> RootMethod:
    if parse_uid(shell_id) == 0:
        return RootMethod.ADBD
    if parse_uid(su_c_id) == 0:
        return RootMethod.SU_C
    if parse_uid(su_0_id) == 0:
        return RootMethod.SU_0
    return RootMethod.NONE


def _probe_line() -> str:
    mark = cmd(W("echo"), MARK)
    return commands(
        cmd(W("uname"), W("-r")), mark,
        cmd(W("id")), mark,
        cmd(W("su"), W("-c"), W("id")), mark,
        cmd(W("su"), W("0"), W("id")), mark,
        cmd(W("pidof"), W("frida-server")) + " && " + cmd(FRIDA_SERVER_PATH, W("--version")),
    )


def probe_command() -> str:
    """The probe line (kernel, ids, root methods, frida-server version), one round trip."""
    return _probe_line()


def root_from_probe(probe_stdout: str) -> RootMethod:
    sections = split_probe(probe_stdout) + [""] * 5
    return root_from_ids(sections[1], sections[2], sections[3])


def info_from(serial: str, props: dict[str, str], probe_stdout: str) -> DeviceInfo:
    sections = split_probe(probe_stdout) + [""] * 5
    kernel, shell_id, su_c, su_0, frida = sections[:5]
    root = root_from_ids(shell_id, su_c, su_0)
    frida_lines = [x for x in frida.splitlines() if re.fullmatch(r"\d+\.\d+\.\d+\S*", x.strip())]
    try:
        sdk = int(props.get("ro.build.version.sdk", "0") or 0)
    except ValueError:
        sdk = 0
    return DeviceInfo(
        serial=serial,
        manufacturer=props.get("ro.product.manufacturer", ""),
        model=props.get("ro.product.model", ""),
        device=props.get("ro.product.device", ""),
        fingerprint=props.get("ro.build.fingerprint", ""),
        build_id=props.get("ro.build.id", ""),
        android_release=props.get("ro.build.version.release", ""),
        sdk=sdk,
        security_patch=props.get("ro.build.version.security_patch", ""),
        kernel=kernel.splitlines()[0].strip() if kernel else "",
        abi=props.get("ro.product.cpu.abi", ""),
        rooted=root != RootMethod.NONE,
        root_method=root.value,
        frida_server_version=frida_lines[-1].strip() if frida_lines else None,
    )


