"""`lab doctor`'s checks of one handset: each a frozen Check (pass, warn, fail, or not
applicable) with what was found and, when not passing, the fix.

The quick ones, a shell command or two each, run before every `lab run` (run/doctor.py):
restore journal, root, SELinux, frida-server (binary: present, version, ABI; process),
clock, screen (on and unlocked: monkey and taps need it), free space on /data. The slow
ones, which change the handset and undo it, are in ca_probe.py (the CA where apps look)
and capture_probe.py (a connection from the handset reaching the host through adb
reverse), or run/tunnel_probe.py in WireGuard mode (one through a probe tunnel to a probe
proxy); the Java bridge check is Frida's (instrument/bridge_probe.py).

Formats: `getenforce`; `date +%s`; `df /data` (toybox: 1K-blocks, Used, Available);
`dumpsys window policy` (mShowingLockscreen / mDreamingLockscreen, KeyguardStateMonitor's
mIsShowing with mInputRestricted, screenState) and `dumpsys power` (mWakefulness or
getWakefulnessLocked(), Display Power: state=), read as appium-adb reads them;
`od -A n -t x1 -N 20` of the frida-server binary for its ELF header.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.devices.elf import HEADER_BYTES, NotElfError, parse_header, parse_od
from harness.devices.frida_binary import asset_name, check_header, choose, load
from harness.devices.frida_server import parse_version, running_pids
from harness.devices.handset import Handset
from harness.devices.info import RootMethod
from harness.devices.journal import pending_journals
from harness.devices.paths import FRIDA_SERVER_PATH
from harness.devices.shellquote import W, cmd
from harness.errors import CaptureError, InstrumentError

CLOCK_WARN_SECONDS = 60  # flows and hooks are matched to steps by time
CLOCK_FAIL_SECONDS = 86_400  # mitmproxy backdates its certificates by two days: a day is the margin
STORAGE_FAIL_KB = 256 * 1024
STORAGE_WARN_KB = 1024 * 1024


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str  # what was found
    fix: str | None = None  # what to do about it (warn and fail)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "summary": self.summary, "fix": self.fix,
                "details": self.details}


def passed(name: str, summary: str, **details: Any) -> Check:
    return Check(name, Status.PASS, summary, None, details)


@dataclass(frozen=True)
class Report:
    serial: str
    checks: tuple[Check, ...]
    device: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == Status.FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == Status.WARN]

    @property
    def status(self) -> Status:
        return Status.FAIL if self.failed else Status.WARN if self.warnings else Status.PASS

    @property
    def exit_code(self) -> int:
        """0 all pass, 1 warnings, 3 a failure (a handset or environment error)."""
        return {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 3}[self.status]

    def message(self) -> str:
        """The failures, one line each with its fix: what `lab run` stops with."""
        return "\n".join(f"doctor: {c.name}: {c.summary}" + (f"; fix: {c.fix}" if c.fix else "")
                         for c in self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "device": self.device, "status": self.status.value,
                "exit_code": self.exit_code, "checks": [c.as_dict() for c in self.checks]}


# --- adb, journal, root, SELinux ---------------------------------------------------------

ADB_FIXES = {
    "unauthorized": "unlock the phone and accept \"Allow USB debugging?\" (tick \"Always allow from this "
                    "computer\"); no prompt: revoke USB debugging authorisations in Developer options, "
                    "`adb kill-server`, reconnect the cable",
    "offline": "reconnect the cable (or `adb reconnect`); then `adb kill-server` and `adb devices`",
    "missing": "connect the phone with USB debugging on (Developer options) and check `adb devices`; "
               "for a phone on the network: `adb connect HOST:PORT`",
}


def check_adb(serial: str, state: str | None, detail: str = "") -> Check:
    """The adb server's view of the handset: `device`, or why no command reaches it."""
    if state == "device":
        return passed("adb", f"{serial} is authorised (state device)", state=state)
    kind = state if state in ("unauthorized", "offline") else "missing"
    found = {"unauthorized": "the handset is unauthorized: it did not accept this computer's adb key",
             "offline": "the handset is offline",
             "missing": f"the adb server does not list {serial}"}[kind]
    return Check("adb", Status.FAIL, found + (f" ({detail})" if detail else ""), ADB_FIXES[kind],
                 {"state": state})


def check_journal(state_dir: Path, serial: str) -> Check:
    """A run or prepare that was never restored leaves the handset changed."""
    try:
        pending = pending_journals(state_dir, serial)
    except CaptureError as e:
        return Check("journal", Status.FAIL, f"the restore journal of {serial} is unreadable: {e}",
                     f"move it aside after checking the handset by hand ({state_dir / 'journals'})")
    if pending:
        return Check("journal", Status.FAIL,
                     f"changes of an earlier run are not undone ({pending[0].summary()})",
                     f"`lab restore --device {serial}`", {"journal": str(pending[0].paths[0])})
    return passed("journal", "no earlier change is left to undo")


def check_root(handset: Handset) -> Check:
    method = RootMethod(handset.info.root_method)
    if method == RootMethod.NONE:
        return Check("root", Status.WARN, "not rooted: the CA can only go to the user store (most apps "
                     "ignore it) and frida-server cannot run",
                     "root the phone (Magisk: `adb shell su -c id` must print uid=0) or use a userdebug "
                     "build and `adb root`", {"method": method.value})
    how = {RootMethod.ADBD: "adbd runs as root", RootMethod.SU_C: "`su -c` (Magisk-style)",
           RootMethod.SU_0: "`su 0` (AOSP su)"}[method]
    return passed("root", f"root through {how}", method=method.value)


def check_selinux(handset: Handset) -> Check:
    mode = handset.sh(cmd(W("getenforce")), check=False).stdout.strip()
    if mode == "Enforcing":
        return passed("selinux", "Enforcing (as on users' phones)", mode=mode)
    return Check("selinux", Status.WARN, f"SELinux is {mode or 'unknown'}: apps can tell such a phone "
                 "from a user's (root detection) and may behave differently",
                 "`adb shell su -c 'setenforce 1'` (the harness works with Enforcing)", {"mode": mode})


# --- frida-server ----------------------------------------------------------------------------


def check_frida_server(handset: Handset, configured: Path | None, expected: str, *,
                       local: bool, quick: bool) -> list[Check]:
    """The binary a run would start (lab.yaml's, else the handset's) and a running server.
    `local`: Frida's local device (virtual handsets) is used, so a run needs no server; a
    full doctor checks the handset's binary anyway, the quick one says not applicable."""
    if local and quick:
        note = "Frida's local device reaches this handset's apps; no frida-server is needed"
        return [Check("frida-server", Status.NOT_APPLICABLE, note),
                Check("frida-server process", Status.NOT_APPLICABLE, note)]
    abi = handset.info.abi
    download = (f"download {asset_name(abi, expected)} (https://github.com/frida/frida/releases/tag/{expected}) "
                f"into a folder named as devices[].frida_server in lab.yaml (the harness picks the "
                f"handset's ABI and unpacks it), or unxz it, `adb push` it to {FRIDA_SERVER_PATH} and "
                f"`adb shell chmod 755 {FRIDA_SERVER_PATH}`")
    binary = _lab_binary(configured, abi, expected, download) if configured else \
        _handset_binary(handset, abi, expected, download)
    checks = [binary]
    if not local and RootMethod(handset.info.root_method) == RootMethod.NONE:
        checks.append(Check("frida-server process", Status.FAIL, "frida-server must run as root and the "
                            "handset is not rooted", "root the phone (see root)"))
        return checks
    checks.append(_process(handset, expected, local))
    return checks


def _lab_binary(configured: Path, abi: str, expected: str, download: str) -> Check:
    try:
        chosen = choose(configured, abi, expected)
        load(chosen, abi, expected)
    except InstrumentError as e:
        return Check("frida-server", Status.FAIL, str(e), download, {"configured": str(configured)})
    return passed("frida-server", f"{chosen.path.name} (lab.yaml) is frida-server "
                  f"{chosen.version or expected} for {abi}; `lab run` pushes it", binary=str(chosen.path))


def _handset_binary(handset: Handset, abi: str, expected: str, download: str) -> Check:
    if not handset.exists(FRIDA_SERVER_PATH):
        return Check("frida-server", Status.FAIL, f"no frida-server at {FRIDA_SERVER_PATH}, and lab.yaml "
                     "names none", download)
    od = handset.sh(cmd(W("od"), W("-A"), W("n"), W("-t"), W("x1"), W("-N"), W(str(HEADER_BYTES)),
                        FRIDA_SERVER_PATH), check=False)
    try:
        header = parse_header(parse_od(od.stdout))
        check_header(parse_od(od.stdout), abi, expected, FRIDA_SERVER_PATH)
    except NotElfError as e:
        return Check("frida-server", Status.FAIL, f"{FRIDA_SERVER_PATH} is not an executable ({e}; "
                     f"{od.stderr.strip()[:80]})".replace("; )", ")"), download)
    except InstrumentError:
        return Check("frida-server", Status.FAIL, f"{FRIDA_SERVER_PATH} is a {header.describe()} "
                     f"({header.abi or 'no Android ABI'}), but the handset is {abi}", download,
                     {"elf": header.describe(), "abi": abi})
    out = handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False)
    version = parse_version(out.stdout)
    if version != expected:
        found = f"frida-server {version}" if version else f"a binary that does not say its version ({out.output.strip()[:80]})"
        return Check("frida-server", Status.FAIL, f"{FRIDA_SERVER_PATH} is {found}, but the Python frida "
                     f"is {expected}", download, {"version": version})
    return passed("frida-server", f"{FRIDA_SERVER_PATH} is frida-server {version} for {abi}",
                  version=version, abi=abi)


def _process(handset: Handset, expected: str, local: bool) -> Check:
    pids = running_pids(handset)
    if not pids:
        how = "virtual handsets use Frida's local device" if local else "`lab run` starts it"
        return passed("frida-server process", f"not running ({how})")
    version = parse_version(handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False).stdout)
    if version != expected:
        return Check("frida-server process", Status.FAIL,
                     f"a frida-server runs (pids {' '.join(map(str, pids))}) whose binary is "
                     f"{version or 'of unknown version'}, not {expected}: frida reports \"unable to "
                     "communicate with remote frida-server\"",
                     "stop it (`adb shell su -c 'killall frida-server'`); `lab run` starts the right one",
                     {"pids": pids, "version": version})
    return passed("frida-server process", f"frida-server {version} runs (pids {' '.join(map(str, pids))})",
                  pids=pids)


# --- clock, screen, storage -------------------------------------------------------------------


def check_clock(handset: Handset) -> Check:
    before = time.time()
    out = handset.sh(cmd(W("date"), W("+%s")), check=False).stdout.strip()
    after = time.time()
    if not out.isdigit():
        return Check("clock", Status.WARN, f"`date +%s` printed {out[:40]!r}", "check the handset's date")
    skew = int(out) - (before + after) / 2
    shown = f"{'ahead of' if skew > 0 else 'behind'} this computer by {abs(skew):.0f} s"
    fix = ("turn on automatic date and time (`adb shell settings put global auto_time 1`) or set it as "
           "root (`adb shell su -c 'date MMDDhhmmYYYY.ss'`)")
    if abs(skew) > CLOCK_FAIL_SECONDS:
        return Check("clock", Status.FAIL, f"the handset's clock is {shown}: the proxy's certificates are "
                     "not valid at its time, so every TLS handshake fails", fix, {"skew_s": round(skew, 1)})
    if abs(skew) > CLOCK_WARN_SECONDS:
        return Check("clock", Status.WARN, f"the handset's clock is {shown}: flows and hooks are matched to "
                     "steps by time", fix, {"skew_s": round(skew, 1)})
    return passed("clock", f"within {CLOCK_WARN_SECONDS} s of this computer ({skew:+.0f} s)",
                  skew_s=round(skew, 1))


@dataclass(frozen=True)
class ScreenState:
    awake: bool
    locked: bool
    secure: bool  # a PIN, pattern or password


def parse_screen(policy: str, power: str) -> ScreenState:
    """From `dumpsys window policy` and `dumpsys power` (appium-adb's reading of them)."""
    locked = ("mShowingLockscreen=true" in policy or "mDreamingLockscreen=true" in policy or (
        re.search(r"KeyguardStateMonitor[\n\s]+mIsShowing=true", policy) is not None
        and re.search(r"\s+mInputRestricted=true", policy) is not None))
    wake = re.search(r"^\s*(?:mWakefulness|getWakefulnessLocked\(\))=(\w+)", power, re.MULTILINE)
    awake = not (re.search(r"\s+screenState=SCREEN_STATE_OFF", policy)
                 or (wake is not None and wake.group(1) in ("Asleep", "Dozing"))
                 or "Display Power: state=OFF" in power)
    secure = re.search(r"^\s+secure=true", policy, re.MULTILINE) is not None
    return ScreenState(awake, locked, secure)


def check_screen(handset: Handset) -> Check:
    policy = handset.sh(cmd(W("dumpsys"), W("window"), W("policy")), check=False).stdout
    power = handset.sh(cmd(W("dumpsys"), W("power")), check=False).stdout
    state = parse_screen(policy, power)
    details = {"awake": state.awake, "locked": state.locked, "secure": state.secure}
    stay_on = "keep it on while charging: `adb shell svc power stayon usb`"
    unlock = ("a PIN, pattern or password must be entered on the phone; for a lab phone set Screen lock "
              "to None" if state.secure else "`adb shell wm dismiss-keyguard` (or a swipe up); for a lab "
              "phone set Screen lock to None")
    if not state.awake:
        return Check("screen", Status.FAIL, "the screen is off" + (" and locked" if state.locked else "") +
                     ": launches, monkey and taps reach nothing",
                     "wake it (`adb shell input keyevent KEYCODE_WAKEUP`)" +
                     (f", unlock it ({unlock})" if state.locked else "") + f"; {stay_on}", details)
    if state.locked:
        return Check("screen", Status.FAIL, "the lock screen is showing" + (" (secure)" if state.secure else "")
                     + ": monkey and taps go to the keyguard, not the app", f"unlock it: {unlock}", details)
    return passed("screen", "on and unlocked", **details)


def parse_df(text: str) -> int | None:
    """Available 1K blocks of the last data line of toybox `df` output."""
    rows = [line.split() for line in text.splitlines()[1:] if line.strip()]
    if not rows or len(rows[-1]) < 6 or not rows[-1][3].isdigit():
        return None
    return int(rows[-1][3])


def check_storage(handset: Handset) -> Check:
    out = handset.sh(cmd(W("df"), W("/data")), check=False).stdout
    free = parse_df(out)
    if free is None:
        return Check("storage", Status.WARN, f"`df /data` printed nothing readable ({out.strip()[:60]!r})",
                     "check free space in Settings > Storage")
    shown = f"{free / 1024 / 1024:.1f} GB free on /data" if free >= 1024 * 1024 else f"{free // 1024} MB free on /data"
    fix = "free space: uninstall apps no profile needs, delete old files in /data/local/tmp"
    if free < STORAGE_FAIL_KB:
        return Check("storage", Status.FAIL, f"{shown}: installs, frida-server (~50 MB) and app data fail",
                     fix, {"free_kb": free})
    if free < STORAGE_WARN_KB:
        return Check("storage", Status.WARN, f"{shown}: APK installs may fail", fix, {"free_kb": free})
    return passed("storage", shown, free_kb=free)
