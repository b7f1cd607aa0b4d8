"""Parsers of real handset output (samples in shared/android-reference/).

Pure functions over text, each tested against the reference samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PKG_BLOCK = re.compile(r"^  Package \[(?P<pkg>[^\]]+)\]", re.M)
_VERSION_CODE = re.compile(r"^\s+versionCode=(\d+)", re.M)
_VERSION_NAME = re.compile(r"^\s+versionName=(\S+)", re.M)
_UID = re.compile(r"^\s+(?:userId|appId)=(\d+)", re.M)
_PERM = re.compile(r"^\s+([A-Za-z0-9_.]+): granted=(true|false)")
_FOCUS = re.compile(r"mCurrentFocus=Window\{\S+ u\d+ (?P<pkg>[^\s/}]+)(?:/(?P<act>[^\s}]+))?\}")
_FOCUS_NULL = re.compile(r"mCurrentFocus=null")
_LIST_LINE = re.compile(r"^package:(?:(?P<path>.*)=)?(?P<pkg>[A-Za-z0-9_.]+)"
                        r"(?: versionCode:(?P<vc>\d+))?(?:  installer=(?P<inst>\S+))?(?: uid:(?P<uid>[\d,]+))?\s*$")


@dataclass(frozen=True)
class PackageDump:
    """What `dumpsys package PKG` says of one package."""

    package: str
    uid: int | None
    version_code: int | None
    version_name: str | None
    install_permissions: dict[str, bool] = field(default_factory=dict)
    runtime_permissions: dict[str, bool] = field(default_factory=dict)
    requested_permissions: tuple[str, ...] = ()

    def granted(self, permission: str) -> bool | None:
        """True/False, or None when the package does not list the permission at all."""
        if permission in self.runtime_permissions:
            return self.runtime_permissions[permission]
        if permission in self.install_permissions:
            return self.install_permissions[permission]
        return False if permission in self.requested_permissions else None


def _package_block(text: str, package: str) -> str | None:
    """The `Package [pkg]` block of the Packages: section (not Hidden system packages)."""
    start = None
    for match in _PKG_BLOCK.finditer(text):
        if match.group("pkg") == package:
            start = match.start()
            break
    if start is None:
        return None
    rest = text[start:]
    lines = rest.splitlines()
    block = [lines[0]]
    for line in lines[1:]:
        if line and not line.startswith("   "):  # next "  Package [" or a new section
            break
        block.append(line)
    return "\n".join(block)


def parse_dumpsys_package(text: str, package: str) -> PackageDump | None:
    block = _package_block(text, package)
    if block is None:
        return None
    uid = _UID.search(block)
    code = _VERSION_CODE.search(block)
    name = _VERSION_NAME.search(block)
    install: dict[str, bool] = {}
    runtime: dict[str, bool] = {}
    requested: list[str] = []
    section = None
    for line in block.splitlines():
        stripped = line.strip()
        if stripped in ("install permissions:", "runtime permissions:", "requested permissions:",
                        "declared permissions:"):
            section = stripped.split()[0]
            section_indent = len(line) - len(line.lstrip())
            continue
        if section is None:
            continue
        indent = len(line) - len(line.lstrip())
        if not stripped or indent <= section_indent:
            section = None
            continue
        if section == "requested":
            requested.append(stripped.split(":")[0].split(",")[0].strip())
            continue
        match = _PERM.match(line)
        if match and section in ("install", "runtime"):
            (install if section == "install" else runtime)[match.group(1)] = match.group(2) == "true"
    version_name = name.group(1) if name else None
    return PackageDump(
        package=package,
        uid=int(uid.group(1)) if uid else None,
        version_code=int(code.group(1)) if code else None,
        version_name=None if version_name == "null" else version_name,
        install_permissions=install,
        runtime_permissions=runtime,
        requested_permissions=tuple(requested),
    )


@dataclass(frozen=True)
class ListedPackage:
    package: str
    path: str | None = None
    version_code: int | None = None
    installer: str | None = None
    uid: int | None = None


def parse_pm_list(text: str) -> list[ListedPackage]:
    """`pm list packages [-f] [-U] [--show-versioncode] [-i]` (the last '=' splits -f)."""
    out = []
    for line in text.splitlines():
        match = _LIST_LINE.match(line.rstrip("\r"))
        if not match:
            continue
        uid = match.group("uid")
        out.append(ListedPackage(
            package=match.group("pkg"),
            path=match.group("path"),
            version_code=int(match.group("vc")) if match.group("vc") else None,
            installer=match.group("inst"),
            uid=int(uid.split(",")[0]) if uid else None,
        ))
    return out


def parse_pidof(stdout: str) -> list[int]:
    """PIDs on one line; empty output (exit 1) = not running; "pidof: not found" = []."""
    words = stdout.split()
    if not words or not all(w.isdigit() for w in words):
        return []
    return [int(w) for w in words]


@dataclass(frozen=True)
class Focus:
    package: str | None
    activity: str | None


def parse_current_focus(text: str) -> Focus | None:
    """The focused window: the last non-null mCurrentFocus (one per display on foldables)."""
    found = None
    for match in _FOCUS.finditer(text):
        found = Focus(match.group("pkg"), match.group("act"))
    if found is None and _FOCUS_NULL.search(text):
        return Focus(None, None)
    return found


_RESUMED = re.compile(r"(?:mResumedActivity: |topResumedActivity=|ResumedActivity: )"
                      r"ActivityRecord\{\S+ u\d+ (?P<pkg>[^\s/]+)/(?P<act>\S+)")


def parse_resumed_activity(text: str) -> Focus | None:
    match = _RESUMED.search(text)
    return Focus(match.group("pkg"), match.group("act")) if match else None


_AM_ERROR = re.compile(r"^(Error( type \d+)?:?.*|Exception.*|java\.\S+Exception.*)$", re.M)


def am_start_error(output: str) -> str | None:
    """`am start` exits 0 on old releases even when it fails; errors come on later lines."""
    errors = [m.group(0) for m in _AM_ERROR.finditer(output)]
    return "; ".join(errors) if errors else None


def parse_monkey_events(output: str) -> int | None:
    match = re.search(r"Events injected: (\d+)", output)
    return int(match.group(1)) if match else None


def parse_broadcast_result(output: str) -> tuple[int | None, str | None]:
    """`Broadcast completed: result=-1, data="..."` -> (-1, '...')."""
    match = re.search(r'Broadcast completed: result=(-?\d+)(?:, data="(.*)")?', output)
    if not match:
        return None, None
    return int(match.group(1)), match.group(2)


def parse_content_rows(output: str) -> list[dict[str, str]]:
    """`content query` rows: `Row: N col=val, col=val`; "No result found." = []."""
    rows = []
    for line in output.splitlines():
        match = re.match(r"^Row: \d+ (.*)$", line)
        if not match:
            continue
        row: dict[str, str] = {}
        for part in re.split(r", (?=[A-Za-z_][A-Za-z0-9_]*=)", match.group(1)):
            key, _, value = part.partition("=")
            row[key] = value
        rows.append(row)
    return rows
