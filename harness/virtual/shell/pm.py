"""The package manager's shell: pm and `cmd package` (list, path, grant, revoke, install,
uninstall, clear, enable/disable) and dumpsys package."""

from __future__ import annotations

import hashlib
import time

from harness.virtual.fs import FsError
from harness.virtual.packages import (
    RUNTIME_PERMISSIONS,
    ApkError,
    Package,
    data_app_path,
    parse_apk,
)
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command
from harness.virtual.state import HandsetState


def _exception(verb: str, kind: str, message: str) -> Usage:
    return Usage(f"Exception occurred while executing '{verb}':\njava.lang.{kind}: {message}\n"
                 "\tat com.android.server.pm.PackageManagerShellCommand.onCommand("
                 "PackageManagerShellCommand.java:230)", 255)


def install_apk(state: HandsetState, data: bytes, flags: list[str], apps: object = None) -> tuple[bool, str]:
    """Install APK bytes; (ok, text) where text is pm's answer ("Success" / "Failure [...]")."""
    try:
        info = parse_apk(data)
    except ApkError as e:
        return False, f"Failure [{e.code}: {e}]"
    old = state.packages.get(info.package)
    if old is not None and old.version_code > info.version_code and "-d" not in flags:
        return False, (f"Failure [INSTALL_FAILED_VERSION_DOWNGRADE: Downgrade detected: Update version code "
                       f"{info.version_code} is older than current {old.version_code}]")
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    path = old.path if old and not old.system else data_app_path(info.package)
    granted = set(old.granted) & set(info.permissions) if old else set()
    if "-g" in flags:
        granted |= {p for p in info.permissions if p in RUNTIME_PERMISSIONS}
    pkg = Package(info.package, old.uid if old else state.next_uid(), path, system=False,
                  version_code=info.version_code, version_name=info.version_name,
                  target_sdk=state.sdk, requested=list(info.permissions), granted=granted,
                  activities=list(info.activities), label=info.package,
                  behaviours=info.behaviours or (old.behaviours if old else {}),
                  first_install=old.first_install if old else now, last_update=now,
                  installer=None)
    if old is not None and apps is not None:
        apps.stop(info.package)  # type: ignore[attr-defined]
    state.files.mkdir(pkg.code_path, 0o775, parents=True, uid=1000, gid=1000)
    state.files.write(pkg.path, data, 0o644, 1000, 1000)
    state.packages[info.package] = pkg
    state.logcat("I", 558, "PackageManager", f"Package {info.package} codePath changed ... installed")
    return True, "Success"


def _list_packages(sh: Shell, args: list[str], io: IO) -> int:
    flags = set()
    name_filter = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--user":
            i += 1
        elif a == "--show-versioncode":
            flags.add("V")
        elif a == "--apex-only":
            flags.add("A")
        elif a.startswith("-") and len(a) > 1:
            flags.update(a[1:])
        else:
            name_filter = a
        i += 1
    if "A" in flags:  # APEX modules only: `package:NAME versionCode:N`, -f: the active .apex
        factory = sh.state.sdk * 10_000_000 + 90_000
        for name, version in sh.state.apex.items():
            if name_filter and name_filter not in name:
                continue
            active = f"/data/apex/active/{name}@{version}.apex" if version > factory else f"/system/apex/{name}.apex"
            path = f"{active}=" if "f" in flags else ""
            io.write(f"package:{path}{name}" + (f" versionCode:{version}" if "V" in flags else "") + "\n")
        return 0
    for pkg in sh.state.packages.values():
        if name_filter and name_filter not in pkg.name:
            continue
        if ("s" in flags and not pkg.system) or ("3" in flags and pkg.system):
            continue
        if ("d" in flags and pkg.enabled) or ("e" in flags and not pkg.enabled):
            continue
        line = "package:" + (f"{pkg.path}=" if "f" in flags else "") + pkg.name
        if "V" in flags:
            line += f" versionCode:{pkg.version_code}"
        if "i" in flags:
            line += f"  installer={pkg.installer or 'null'}"
        if "U" in flags:
            line += f" uid:{pkg.uid}"
        io.write(line + "\n")
    return 0


def _grant(sh: Shell, verb: str, args: list[str], io: IO) -> int:
    args = [a for a in args if a not in ("--user", "0")]
    if len(args) < 2:
        raise _exception(verb, "IllegalArgumentException", "no package specified" if not args else "no permission specified")
    name, perm = args[0], args[1]
    pkg = sh.state.packages.get(name)
    if pkg is None:
        raise _exception(verb, "IllegalArgumentException", f"Unknown package: {name}")
    if perm not in pkg.requested:
        if not perm.startswith("android.permission.") and "." not in perm:
            raise _exception(verb, "IllegalArgumentException", f"Unknown permission: {perm}")
        raise _exception(verb, "SecurityException", f"Package {name} has not requested permission {perm}")
    if perm not in RUNTIME_PERMISSIONS:
        raise _exception(verb, "SecurityException",
                         f"Permission {perm} requested by {name} is not a changeable permission type")
    if verb == "grant":
        pkg.granted.add(perm)
    else:
        pkg.granted.discard(perm)
        sh.host.apps.stop(name)
    return 0


@command("pm")
def pm(sh: Shell, argv: list[str], io: IO) -> int:
    return package_command(sh, argv[1:], io)


def package_command(sh: Shell, args: list[str], io: IO) -> int:
    if not args:
        raise Usage("Package manager (package) commands:\n  help\n  path [--user USER_ID] PACKAGE\n"
                    "  list packages [-f] [-d] [-e] [-s] [-3] [-i] [-l] [-u] [-U] [--show-versioncode] [--apex-only] [FILTER]\n"
                    "  install [-r] [-t] [-g] [-d] PATH\n  uninstall [-k] [--user USER_ID] PACKAGE\n"
                    "  grant [--user USER_ID] PACKAGE PERMISSION\n  revoke [--user USER_ID] PACKAGE PERMISSION", 0)
    verb, rest = args[0], args[1:]
    state = sh.state
    if verb == "list" and rest[:1] == ["packages"]:
        return _list_packages(sh, rest[1:], io)
    if verb == "path":
        names = [a for a in rest if a not in ("--user", "0")]
        pkg = state.packages.get(names[0]) if names else None
        if pkg is None:
            return 1
        io.write(f"package:{pkg.path}\n")
        return 0
    if verb in ("grant", "revoke"):
        return _grant(sh, verb, rest, io)
    if verb == "install":
        paths = [a for a in rest if not a.startswith("-")]
        flags = [a for a in rest if a.startswith("-")]
        if not paths:
            raise Usage("Error: must either specify a package size or an APK file", 255)
        try:
            data = state.files.read(sh.path(paths[-1]))
        except FsError as e:
            raise Usage(f"Error: Can't open file: {paths[-1]}\nException occurred while executing 'install':\n"
                        f"java.lang.IllegalArgumentException: Error: Can't open file: {paths[-1]}", 255) from e
        ok, text = install_apk(state, data, flags, sh.host.apps)
        io.write(text + "\n")
        return 0 if ok else 1
    if verb == "uninstall":
        names = [a for a in rest if not a.startswith("-") and a != "0"]
        pkg = state.packages.get(names[0]) if names else None
        if pkg is None or pkg.system:
            io.write("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
            return 1
        sh.host.apps.stop(pkg.name)
        if state.foreground and state.foreground[0] == pkg.name:
            state.foreground = None
        del state.packages[pkg.name]
        try:
            state.files.remove(pkg.code_path, recursive=True)
        except FsError:
            pass
        io.write("Success\n")
        return 0
    if verb == "clear":
        if not rest or rest[-1] not in state.packages:
            io.write("Failed\n")
            return 1
        sh.host.apps.stop(rest[-1])
        io.write("Success\n")
        return 0
    if verb in ("disable-user", "disable", "enable"):
        names = [a for a in rest if not a.startswith("-") and a != "0"]
        pkg = state.packages.get(names[0]) if names else None
        if pkg is None:
            raise _exception(verb, "IllegalArgumentException", f"Unknown package: {names[0] if names else ''}")
        pkg.enabled = verb == "enable"
        io.write(f"Package {pkg.name} new state: {'enabled' if pkg.enabled else 'disabled-user'}\n")
        return 0
    raise Usage(f"Unknown command: {verb}", 255)


def _hash(text: str, n: int = 7) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def dumpsys_package(sh: Shell, args: list[str], io: IO) -> int:
    names = [a for a in args if not a.startswith("-")]
    state = sh.state
    if not names:
        io.write("Packages:\n")
        for pkg in state.packages.values():
            _package_block(sh, pkg, io)
        return 0
    pkg = state.packages.get(names[0])
    if pkg is None:
        io.write(f"Unable to find package: {names[0]}\n")
        return 0
    io.write("Activity Resolver Table:\n  Non-Data Actions:\n      android.intent.action.MAIN:\n")
    for act in pkg.activities[:1]:
        io.write(f"        {_hash(pkg.name + act)} {pkg.name}/{pkg.short_activity(act)} filter {_hash(act)}\n"
                 '          Action: "android.intent.action.MAIN"\n'
                 '          Category: "android.intent.category.LAUNCHER"\n')
    io.write(f"\nKey Set Manager:\n  [{pkg.name}]\n      Signing KeySets: {pkg.uid % 97}\n\nPackages:\n")
    _package_block(sh, pkg, io)
    io.write(f"\nDexopt state:\n  [{pkg.name}]\n    path: {pkg.path}\n      arm64: [status=speed-profile] [reason=install]\n")
    return 0


def _package_block(sh: Shell, pkg: Package, io: IO) -> None:
    a14 = sh.state.sdk >= 34
    flags = ("SYSTEM " if pkg.system else "") + "HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP"
    lines = [f"  Package [{pkg.name}] ({_hash(pkg.name)}):",
             f"    {'appId' if a14 else 'userId'}={pkg.uid}",
             f"    pkg=Package{{{_hash(pkg.name + 'p')} {pkg.name}}}",
             f"    codePath={pkg.code_path}", f"    resourcePath={pkg.code_path}",
             f"    legacyNativeLibraryDir={pkg.code_path}/lib",
             "    primaryCpuAbi=arm64-v8a" if pkg.system else "    primaryCpuAbi=null",
             "    secondaryCpuAbi=null",
             f"    versionCode={pkg.version_code} minSdk={pkg.min_sdk} targetSdk={pkg.target_sdk}",
             f"    versionName={pkg.version_name}", "    splits=[base]", "    apkSigningVersion=2",
             f"    flags=[ {flags} ]",
             f"    dataDir=/data/user/0/{pkg.name}",
             f"    timeStamp={pkg.last_update}"]
    if not a14:
        lines.append(f"    firstInstallTime={pkg.first_install}")
    lines += [f"    lastUpdateTime={pkg.last_update}",
              f"    installerPackageName={pkg.installer or 'null'}",
              f"    signatures=PackageSignatures{{{_hash(pkg.name + 's')} version:2, signatures:[{_hash(pkg.name + 'k', 8)}], past signatures:[]}}",
              "    installPermissionsFixed=true", f"    pkgFlags=[ {flags} ]"]
    if pkg.requested:
        lines.append("    requested permissions:")
        lines += [f"      {p}" for p in pkg.requested]
        install = [p for p in pkg.requested if p not in RUNTIME_PERMISSIONS]
        if install:
            lines.append("    install permissions:")
            lines += [f"      {p}: granted=true" for p in install]
    lines.append("    User 0: ceDataInode=344151 installed=true hidden=false suspended=false distractionFlags=0 "
                 f"stopped=false notLaunched=false enabled={0 if pkg.enabled else 3} instant=false virtual=false")
    if a14:
        lines += ["      installReason=0", f"      firstInstallTime={pkg.first_install}", "      uninstallReason=0"]
    runtime = [p for p in pkg.requested if p in RUNTIME_PERMISSIONS]
    if runtime:
        lines.append("      runtime permissions:")
        lines += [f"        {p}: granted={'true' if p in pkg.granted else 'false'}, flags=[ USER_SENSITIVE_WHEN_GRANTED|USER_SENSITIVE_WHEN_DENIED]"
                  for p in runtime]
    io.write("\n".join(lines) + "\n")
