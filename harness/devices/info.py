"""DeviceInfo: what a handset is, read in two round trips.

1. `getprop` (the whole listing, parsed: `[key]: [value]`, values may span lines);
2. one probe line: `uname -r`, `id`, `su -c id`, `su 0 id`, and `frida-server --version`
   when a frida-server process runs, separated by echo markers (stdout only: shell v2
   keeps stderr apart, so "su: not found" cannot confuse the parse); for DeviceInfo the
   line also asks for the Mainline module versions a Frida Java bridge depends on:
   `pm list packages --apex-only --show-versioncode` (the ART APEX, com.google.android.art
   on Google-signed builds, com.android.art on others: `package:NAME versionCode:N`),
   `ls /apex` (apexd's `com.android.art@VERSION` mount, when pm answers nothing) and
   `dumpsys package com.google.android.modulemetadata` (its versionName is the "Google
   Play system update" date Settings shows, e.g. 2025-06-01).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from harness.devices.parsers import parse_dumpsys_package, parse_pm_list
from harness.devices.paths import FRIDA_SERVER_PATH
from harness.devices.shellquote import W, cmd, commands

_PROP_START = re.compile(r"^\[([^\]]*)\]: \[(.*)$")
_UID = re.compile(r"\buid=(\d+)")
_APEX_DIR = re.compile(r"com\.android\.art@(\d+)")
MARK = "@@lab-probe@@"
ART_MODULES = ("com.google.android.art", "com.android.art")
MODULE_METADATA = "com.google.android.modulemetadata"
_PROBE_SECTIONS = 5


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
    art_module: str | None = None  # the ART APEX: com.google.android.art or com.android.art
    art_version: int | None = None  # its versionCode (a Google Play system update raises it)
    play_system_update: str | None = None  # com.google.android.modulemetadata's versionName

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


def info_probe_command() -> str:
    """The probe line plus the Mainline module versions: what DeviceInfo reads."""
    mark = cmd(W("echo"), MARK)
    return commands(
        _probe_line(), mark,
        cmd(W("pm"), W("list"), W("packages"), W("--apex-only"), W("--show-versioncode")), mark,
        cmd(W("ls"), W("/apex")), mark,
        cmd(W("dumpsys"), W("package"), W(MODULE_METADATA)),
    )


def parse_modules(apex_list: str, apex_dir: str, metadata_dump: str) -> tuple[str | None, int | None, str | None]:
    """(ART module, its versionCode, Play system update) from the three module sections."""
    apex = {p.package: p.version_code for p in parse_pm_list(apex_list)}
    module = next((m for m in ART_MODULES if m in apex), None)
    version = apex.get(module) if module else None
    if version is None:
        found = [int(m.group(1)) for m in map(_APEX_DIR.fullmatch, apex_dir.split()) if m]
        version = max(found) if found else None
    metadata = parse_dumpsys_package(metadata_dump, MODULE_METADATA)
    return module, version, metadata.version_name if metadata else None


def root_from_probe(probe_stdout: str) -> RootMethod:
    sections = split_probe(probe_stdout) + [""] * 5
    return root_from_ids(sections[1], sections[2], sections[3])


def info_from(serial: str, props: dict[str, str], probe_stdout: str) -> DeviceInfo:
    sections = split_probe(probe_stdout) + [""] * (_PROBE_SECTIONS + 3)
    kernel, shell_id, su_c, su_0, frida = sections[:_PROBE_SECTIONS]
    art_module, art_version, play_update = parse_modules(*sections[_PROBE_SECTIONS:_PROBE_SECTIONS + 3])
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
        art_module=art_module,
        art_version=art_version,
        play_system_update=play_update,
    )


