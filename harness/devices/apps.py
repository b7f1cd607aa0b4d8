"""Apps on a handset: install, permissions, launch, stop, pidof, uid, version, focus,
monkey, input, intents. Every value is validated (shellquote) before any adb call.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from harness.devices.handset import Handset
from harness.devices.journal import Journal
from harness.devices.parsers import (
    Focus,
    PackageDump,
    am_start_error,
    parse_current_focus,
    parse_dumpsys_package,
    parse_monkey_events,
    parse_pidof,
    parse_pm_list,
    parse_resumed_activity,
)
from harness.devices.shellquote import (
    W,
    check_action,
    check_activity,
    check_int,
    check_keyevent,
    check_package,
    check_permission,
    check_uri,
    cmd,
    commands,
    input_text_args,
)
from harness.errors import DeviceCommandError, DeviceError


@dataclass(frozen=True)
class AppVersion:
    package: str
    version_code: int | None
    version_name: str | None


@dataclass(frozen=True)
class MonkeyResult:
    package: str
    events_requested: int
    events_injected: int | None
    exit_status: int


def dumpsys_package(handset: Handset, package: str) -> PackageDump | None:
    package = check_package(package)
    out = handset.sh(cmd(W("dumpsys"), W("package"), package), check=False).stdout
    return parse_dumpsys_package(out, package)


def is_installed(handset: Handset, package: str) -> bool:
    package = check_package(package)
    out = handset.sh(cmd(W("pm"), W("list"), W("packages"), package), check=False).stdout
    return any(p.package == package for p in parse_pm_list(out))


def install(handset: Handset, apk: Path) -> None:
    """Install an APK: sync push to /data/local/tmp, `pm install -r -t`, remove the copy."""
    try:
        data = Path(apk).read_bytes()
    except OSError as e:
        raise DeviceError(f"cannot read APK {apk}: {e}") from e
    remote = f"/data/local/tmp/lab-install-{secrets.token_hex(6)}.apk"
    handset.push_bytes(data, remote)
    try:
        result = handset.sh(cmd(W("pm"), W("install"), W("-r"), W("-t"), remote), check=False,
                            timeout=300)
    finally:
        handset.sh(cmd(W("rm"), W("-f"), remote), check=False)
    if "Success" not in result.stdout:
        reason = re.search(r"Failure \[([\w_]+)", result.output)
        raise DeviceCommandError(
            f"installing {apk} on {handset.serial} failed: "
            f"{reason.group(1) if reason else result.output.strip()[:300]}",
            output=result.output, exit_status=result.exit_status)


def uninstall(handset: Handset, package: str) -> None:
    handset.sh(cmd(W("pm"), W("uninstall"), check_package(package)), check=False)


def uid(handset: Handset, package: str) -> int | None:
    package = check_package(package)
    out = handset.sh(cmd(W("pm"), W("list"), W("packages"), W("-U"), package), check=False).stdout
    for listed in parse_pm_list(out):
        if listed.package == package and listed.uid is not None:
            return listed.uid
    dump = dumpsys_package(handset, package)
    return dump.uid if dump else None


def version(handset: Handset, package: str) -> AppVersion | None:
    dump = dumpsys_package(handset, package)
    if dump is None:
        return None
    return AppVersion(dump.package, dump.version_code, dump.version_name)


def pidof(handset: Handset, package: str) -> list[int]:
    package = check_package(package)
    return parse_pidof(handset.sh(cmd(W("pidof"), package), check=False).stdout)


def launch(handset: Handset, package: str, activity: str | None = None) -> None:
    package = check_package(package)
    if activity:
        component = f"{package}/{check_activity(activity)}"
        result = handset.sh(cmd(W("am"), W("start"), W("-n"), component), check=False)
        error = am_start_error(result.output)
        if error or not result.ok:
            raise DeviceCommandError(f"launching {component} failed: {error or result.output.strip()}",
                                     output=result.output, exit_status=result.exit_status)
        return
    result = handset.sh(cmd(W("monkey"), W("-p"), package, W("-c"),
                            W("android.intent.category.LAUNCHER"), W("1")), check=False)
    if not result.ok or parse_monkey_events(result.stdout) is None:
        raise DeviceCommandError(f"launching {package} failed: {result.output.strip()[:300]}",
                                 output=result.output, exit_status=result.exit_status)


def stop(handset: Handset, package: str) -> None:
    handset.sh(cmd(W("am"), W("force-stop"), check_package(package)))


def wait_running(handset: Handset, package: str, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        pids = pidof(handset, package)
        if pids or time.monotonic() >= deadline:
            return pids
        time.sleep(0.2)


def foreground(handset: Handset) -> Focus | None:
    """The focused app: `dumpsys window` mCurrentFocus, else the resumed activity (13+)."""
    out = handset.sh(cmd(W("dumpsys"), W("window")), check=False).stdout
    focus = parse_current_focus(out)
    if focus is not None and focus.package:
        return focus
    out = handset.sh(cmd(W("dumpsys"), W("activity"), W("activities")), check=False).stdout
    return parse_resumed_activity(out) or focus


def monkey(handset: Handset, package: str, events: int, seed: int, throttle_ms: int) -> MonkeyResult:
    package = check_package(package)
    line = cmd(W("monkey"), W("-p"), package, W("-s"), check_int(seed, 0),
               W("--throttle"), check_int(throttle_ms, 0, 600_000), W("-v"), check_int(events, 1, 10**6))
    result = handset.sh(line, check=False, timeout=max(120.0, events * (throttle_ms / 1000 + 0.05) + 60))
    return MonkeyResult(package, events, parse_monkey_events(result.stdout), result.exit_status)


def tap(handset: Handset, x: int, y: int) -> None:
    handset.sh(cmd(W("input"), W("tap"), check_int(x, 0, 100_000), check_int(y, 0, 100_000)))


def text(handset: Handset, value: str) -> None:
    """Type `value` into the focused window (one `input text` per piece, see input_text_args)."""
    handset.sh(commands(*(cmd(W("input"), W("text"), arg) for arg in input_text_args(value))))


def keyevent(handset: Handset, key: str | int) -> None:
    handset.sh(cmd(W("input"), W("keyevent"), check_keyevent(key)))


def intent(handset: Handset, action: str, data: str | None = None, package: str | None = None) -> None:
    args = [W("am"), W("start"), W("-a"), check_action(action)]
    if data is not None:
        args += [W("-d"), check_uri(data)]
    if package is not None:
        args += [W("-p"), check_package(package)]
    result = handset.sh(cmd(*args), check=False)
    error = am_start_error(result.output)
    if error or not result.ok:
        raise DeviceCommandError(f"intent {action} failed: {error or result.output.strip()}",
                                 output=result.output, exit_status=result.exit_status)


# --- journaled permission changes --------------------------------------------------------


def set_permissions(handset: Handset, journal: Journal, package: str,
                    grant: list[str], revoke: list[str]) -> None:
    """`pm grant` / `pm revoke`, each journaled with the previous grant state."""
    package = check_package(package)
    changes = [(check_permission(p), True) for p in grant] + [(check_permission(p), False) for p in revoke]
    if not changes:
        return
    dump = dumpsys_package(handset, package)
    if dump is None:
        raise DeviceCommandError(f"package {package} is not installed on {handset.serial}")
    for permission, want in changes:
        previous = dump.granted(permission)
        if previous is want:
            continue
        entry = journal.begin("permission", package=package, permission=permission,
                              previous=previous, set=want)
        verb = W("grant") if want else W("revoke")
        handset.sh(cmd(W("pm"), verb, package, permission))
        journal.done(entry)


def undo_permission(handset: Handset, undo: dict) -> None:
    package = check_package(undo["package"])
    permission = check_permission(undo["permission"])
    previous = undo.get("previous")
    if previous is None:
        previous = False
    dump = dumpsys_package(handset, package)
    if dump is None or dump.granted(permission) is previous:
        return
    verb = W("grant") if previous else W("revoke")
    handset.sh(cmd(W("pm"), verb, package, permission))
