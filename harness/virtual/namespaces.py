"""Which mount namespace each process of the handset lives in (fs.py keeps the mounts).

init, ueventd, adbd (so the adb shell and su), frida-server: the init namespace. Each
zygote has its own, forked from init's at boot; each process a zygote forks (system_server,
the phone process, SystemUI, every app) gets a copy of its zygote's at the moment it
starts, and nothing made in the zygote's namespace later reaches it: that is why the
Android 14 CA procedure nsenters every running app too (ca-install-procedures.md).

An app listed in the spec's `faults.app_zygote` is forked by an app zygote
(`<package>_zygote`, itself a child of zygote64) as apps with `android:useAppZygote` and
isolated WebView renderers are: `ps -o PID -P <zygote>` does not list it.
"""

from __future__ import annotations

from typing import Any

from harness.virtual.fs import INIT_NAMESPACE

ZYGOTES = {369: "zygote64", 370: "zygote"}
ZYGOTE_CHILDREN = (558, 952, 4137)  # system_server, com.android.phone, com.android.systemui
APP_ZYGOTE_BASE_PID = 1890


def app_namespace(package: str) -> str:
    return f"app:{package}"


def pid_namespace(pid: int) -> str:
    return f"pid:{pid}"


def app_zygotes(state: Any) -> dict[str, int]:
    """package -> pid of the app zygote that forks it (faults.app_zygote, installed ones)."""
    names = [p for p in state.spec.faults.app_zygote if p in state.packages]
    return {name: APP_ZYGOTE_BASE_PID + 7 * i for i, name in enumerate(names)}


def boot(state: Any) -> None:
    """The namespaces a handset has once booted (mounts of an earlier boot are gone)."""
    fs = state.files
    for name in ZYGOTES.values():
        fs.fork_namespace(INIT_NAMESPACE, name)
    for pid in ZYGOTE_CHILDREN + tuple(app_zygotes(state).values()):
        fs.fork_namespace("zygote64", pid_namespace(pid))


def process_started(state: Any, package: str) -> None:
    """An app's process was just forked: its namespace is a copy of its parent's now."""
    parent = app_zygotes(state).get(package)
    state.files.fork_namespace(pid_namespace(parent) if parent else "zygote64", app_namespace(package))


def of_pid(state: Any, pid: int, running: dict[str, int]) -> str | None:
    """The namespace of process `pid` (`running`: package -> pid of the app processes)."""
    if pid in ZYGOTES:
        return ZYGOTES[pid]
    if pid in ZYGOTE_CHILDREN or pid in app_zygotes(state).values():
        return pid_namespace(pid)
    for package, app_pid in running.items():
        if app_pid == pid:
            name = app_namespace(package)
            if name not in state.files.namespaces:  # started before anyone told the state
                process_started(state, package)
            return name
    return None


def for_package(state: Any, package: str | None) -> str:
    """Where an app's process resolves paths: its own namespace, else the one a process
    forked now would get (zygote64's)."""
    if package is not None and app_namespace(package) in state.files.namespaces:
        return app_namespace(package)
    return "zygote64"
