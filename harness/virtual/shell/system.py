"""System commands: getprop, setprop, settings, ps, pidof, kill, logcat, reboot,
service call (iphonesubinfo parcels), ip/ifconfig, frida-server (svc: shell/radios.py)."""

from __future__ import annotations

import re
import time
from importlib import metadata

from harness.virtual.namespaces import app_zygotes
from harness.virtual.shell import subinfo
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command
from harness.virtual.shell.location import location_on, location_switched
from harness.virtual.state import SYSTEM_PROCESSES, ZYGOTE_PIDS

FRIDA_PID = 7321


@command("getprop")
def getprop(sh: Shell, argv: list[str], io: IO) -> int:
    props = sh.state.props
    args = [a for a in argv[1:] if not a.startswith("-")]
    if not args:
        io.write("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))
        return 0
    io.write(props.get(args[0], args[1] if len(args) > 1 else "") + "\n")
    return 0


@command("setprop")
def setprop(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) != 3:
        raise Usage("usage: setprop NAME VALUE\n\nSets an Android system property.", 1)
    name, value = argv[1], argv[2]
    if (name.startswith("ro.") and name in sh.state.props) or (sh.uid != 0 and name.startswith(("ro.", "sys.", "init."))):
        raise Usage(f"Failed to set property '{name}' to '{value}'.\nSee dmesg for error reason.", 1)
    sh.state.props[name] = value
    return 0


SETTINGS_USAGE = """usage:  settings [--user <USER_ID> | current] get namespace key
        settings [--user <USER_ID> | current] put namespace key value
        settings [--user <USER_ID> | current] delete namespace key
        settings [--user <USER_ID> | current] list namespace

'namespace' is one of {system, secure, global}, case-insensitive
If '--user <USER_ID> | current' is not given, the operations are performed on the system user."""


@command("settings")
def settings(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--user":
        args = args[2:]
    if len(args) < 2:
        raise Usage(SETTINGS_USAGE, 1 if args else 0)
    verb, ns = args[0], args[1].lower()
    if ns not in ("global", "secure", "system"):
        raise Usage(f"Invalid namespace '{args[1]}'\n{SETTINGS_USAGE}", 1)
    table = sh.state.settings[ns]
    if verb == "get" and len(args) >= 3:
        io.write(table.get(args[2], "null") + "\n")
    elif verb == "put" and len(args) >= 4:
        before = location_on(sh)
        table[args[2]] = args[3]
        if ns == "secure" and args[2] == "location_mode":
            location_switched(sh, before)
    elif verb == "delete" and len(args) >= 3:
        io.write(f"Deleted {1 if table.pop(args[2], None) is not None else 0} rows\n")
    elif verb == "list":
        io.write("".join(f"{k}={v}\n" for k, v in sorted(table.items())))
    elif verb == "reset":
        return 0
    else:
        raise Usage(SETTINGS_USAGE, 1)
    wireguard = getattr(sh.host.apps, "wireguard", None)
    if ns == "secure" and verb in ("put", "delete") and args[2].startswith("always_on_vpn") and wireguard is not None:
        wireguard.sync()  # always-on lockdown switched: the apps' network follows at once
    return 0


# --- processes -------------------------------------------------------------------------
def processes(sh: Shell) -> list[tuple[int, int, str, int, str]]:
    """(pid, ppid, user, uid, name) of every process, system ones first."""
    from harness.virtual.shell.files import user_name

    rows = list(SYSTEM_PROCESSES)
    parents = app_zygotes(sh.state)  # faults.app_zygote: forked by an app zygote (namespaces.py)
    for pkg, zpid in parents.items():
        uid = sh.state.packages[pkg].uid
        rows.append((zpid, ZYGOTE_PIDS[0], user_name(uid), uid, f"{pkg}_zygote"))
    for pkg, pid in sorted(sh.host.apps.running().items(), key=lambda kv: kv[1]):
        package = sh.state.packages.get(pkg)
        uid = package.uid if package else 10000
        rows.append((pid, parents.get(pkg, ZYGOTE_PIDS[0]), user_name(uid), uid, pkg))
    if sh.state.frida_running:
        rows.append((FRIDA_PID, 1, "root", 0, "frida-server"))
    return rows


@command("ps")
def ps(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    fields: list[str] | None = None
    ppids: set[int] | None = None
    pids: set[int] | None = None
    names: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-o" and i + 1 < len(args):
            fields = [f.strip().upper() for f in args[i + 1].split(",") if f.strip()]
            i += 1
        elif a == "-P" and i + 1 < len(args):
            ppids = {int(x) for x in args[i + 1].split(",") if x.isdigit()}
            i += 1
        elif a == "-p" and i + 1 < len(args):
            pids = {int(x) for x in args[i + 1].split(",") if x.isdigit()}
            i += 1
        elif not a.startswith("-"):
            names.append(a)
        i += 1
    rows = processes(sh)
    if ppids is not None:
        rows = [r for r in rows if r[1] in ppids]
    if pids is not None:
        rows = [r for r in rows if r[0] in pids]
    if names:
        rows = [r for r in rows if r[4] in names]
    if fields is None:
        io.write("USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME\n")
        for pid, ppid, user, _uid, name in rows:
            vsz, rss = (0, 0) if name.startswith("[") else (10850000 + pid * 13 % 900000, 2000 + pid * 7 % 90000)
            user = user if len(user) <= 12 else user[:11] + "+"
            io.write(f"{user:<12} {pid:>5} {ppid:>5} {vsz:>7} {rss:>6} {'0':<16} {'0':>4} S {name}\n")
        return 0
    width = {"PID": 5, "PPID": 5, "UID": 5, "USER": -12, "NAME": -15, "ARGS": -27, "CMD": -27,
             "S": 1, "RSS": 6, "VSZ": 7}
    io.write(" ".join(_cell(f, f, width.get(f, -8), j == len(fields) - 1) for j, f in enumerate(fields)) + "\n")
    for pid, ppid, user, uid, name in rows:
        values = {"PID": pid, "PPID": ppid, "UID": uid, "USER": user, "NAME": name, "ARGS": name,
                  "CMD": name, "S": "S", "RSS": 2048, "VSZ": 10850000}
        io.write(" ".join(_cell(f, values.get(f, "?"), width.get(f, -8), j == len(fields) - 1)
                          for j, f in enumerate(fields)) + "\n")
    return 0


def _cell(field: str, value: object, width: int, last: bool) -> str:
    text = str(value)
    if width < 0:
        return text if last else f"{text:<{-width}}"
    return f"{text:>{width}}"


@command("pidof")
def pidof(sh: Shell, argv: list[str], io: IO) -> int:
    single = "-s" in argv
    names = [a for a in argv[1:] if not a.startswith("-")]
    found = [str(pid) for pid, _, _, _, name in processes(sh) if name in names]
    if single:
        found = found[:1]
    if not found:
        return 1
    io.write(" ".join(found) + "\n")
    return 0


@command("kill", "killall", "pkill")
def kill(sh: Shell, argv: list[str], io: IO) -> int:
    targets = [a for a in argv[1:] if not a.startswith("-")]
    status = 0
    for t in targets:
        rows = [r for r in processes(sh) if (str(r[0]) == t if argv[0] == "kill" else r[4] == t)]
        if not rows:
            io.error(f"{argv[0]}: {t}: No such process\n" if argv[0] == "kill" else f"{argv[0]}: {t}: no process killed\n")
            status = 1
            continue
        for pid, _ppid, _user, uid, name in rows:
            if sh.uid != 0 and uid != sh.uid:
                io.error(f"{argv[0]}: pid {pid}: Operation not permitted\n")
                status = 1
            elif name == "frida-server":
                sh.state.frida_running = False
            elif name in sh.state.packages:
                sh.host.apps.stop(name)
    return status


def format_log_line(entry: tuple[float, int, int, str, str, str], fmt: str = "threadtime") -> str:
    t, pid, tid, level, tag, message = entry
    stamp = time.strftime("%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
    if fmt == "time":
        return f"{stamp} {level}/{tag}({pid:5d}): {message}"
    if fmt == "brief":
        return f"{level}/{tag:<8}({pid:5d}): {message}"
    return f"{stamp} {pid:5d} {tid:5d} {level} {tag:<8}: {message}"


def logcat_format(argv: list[str]) -> str:
    for i, a in enumerate(argv):
        if a == "-v" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--format="):
            return a.split("=", 1)[1]
    return "threadtime"


@command("logcat")
def logcat(sh: Shell, argv: list[str], io: IO) -> int:
    """`logcat -d` dumps and exits; a plain `logcat` is streamed by the adb service layer."""
    if "-c" in argv or "--clear" in argv:
        sh.state.log.clear()
        return 0
    fmt = logcat_format(argv)
    entries = list(sh.state.log)
    if "-t" in argv and argv.index("-t") + 1 < len(argv) and argv[argv.index("-t") + 1].isdigit():
        entries = entries[-int(argv[argv.index("-t") + 1]):]
    io.write("--------- beginning of main\n")
    io.write("".join(format_log_line(e, fmt) + "\n" for e in entries))
    return 0


@command("reboot")
def reboot(sh: Shell, argv: list[str], io: IO) -> int:
    sh.host.request_reboot()
    return 0


@command("ip", "ifconfig")
def ip(sh: Shell, argv: list[str], io: IO) -> int:
    mac = sh.state.identifiers["wifi_mac"]
    if argv[0] == "ifconfig":
        io.write(f"wlan0     Link encap:Ethernet  HWaddr {mac}\n          inet addr:192.168.1.37  "
                 "Bcast:192.168.1.255  Mask:255.255.255.0\n          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n")
        return 0
    io.write(f"23: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 3000\n"
             f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff\n"
             "    inet 192.168.1.37/24 brd 192.168.1.255 scope global wlan0\n"
             "       valid_lft forever preferred_lft forever\n")
    return 0


# --- service call iphonesubinfo (shell/subinfo.py) ---------------------------------------
@command("service")
def service(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if args[:1] == ["list"]:
        io.write("Found 3 services:\n0\tiphonesubinfo: [com.android.internal.telephony.IPhoneSubInfo]\n"
                 "1\tphone: [com.android.internal.telephony.ITelephony]\n2\tpackage: [android.content.pm.IPackageManager]\n")
        return 0
    if args[:1] == ["check"] and len(args) > 1:
        io.write(f"Service {args[1]}: found\n")
        return 0
    if len(args) < 3 or args[0] != "call" or not args[2].isdigit():
        raise Usage("usage: service [-h|-?]\n       service list\n       service check SERVICE\n"
                    "       service call SERVICE CODE [i32 N | i64 N | f N | d N | s16 STR | null | fd f] ...", 1)
    if args[1] != "iphonesubinfo":
        io.write("Result: Parcel(00000000    '....')\n")
        return 0
    io.write(subinfo.call(sh.state, sh.uid, int(args[2]), args[3:]))
    return 0


# --- frida-server ------------------------------------------------------------------------
def pushed_frida_version(sh: Shell, path: str | None) -> str:
    if path:
        data = sh.state.files.lookup(sh.path(path))
        blob = getattr(data, "data", b"")[:4_000_000]
        m = re.search(rb"(?:frida-server[- ]|FRIDA_VERSION=)(\d+\.\d+\.\d+)", blob)
        if m:
            return m.group(1).decode()
    if sh.state.frida_version:
        return sh.state.frida_version
    try:
        return metadata.version("frida")
    except metadata.PackageNotFoundError:
        return "17.0.0"


@command("frida-server")
def frida_server(sh: Shell, argv: list[str], io: IO) -> int:
    """Only reachable for a pushed executable named frida-server* (see Shell.exec_file)."""
    path = argv[0] if "/" in argv[0] else None
    if "--version" in argv:
        io.write(pushed_frida_version(sh, path) + "\n")
        return 0
    if sh.uid != 0:
        io.error("Unable to load SELinux policy from the kernel: Failed to open file "
                 "“/sys/fs/selinux/policy”: Permission denied\n")
        return 1
    sh.state.frida_version = pushed_frida_version(sh, path)
    sh.state.frida_running = True
    return 0
