"""The handset's global HTTP proxy, pointed at a host proxy bound to loopback.

`adb reverse tcp:PORT tcp:PORT` makes the handset's 127.0.0.1:PORT reach the host's
127.0.0.1:PORT through the adb server, then `settings put global http_proxy
127.0.0.1:PORT`. Undo (settings-proxy-androidid.txt): a key that did not exist ("null")
is cleared with `put :0` (what the framework honours at once) and then deleted, so the
settings table ends as it began; an old value is put back.
"""

from __future__ import annotations

import re

from harness.devices.handset import Handset
from harness.devices.journal import Journal
from harness.devices.shellquote import W, check_adb_socket, check_port, cmd
from harness.errors import UnsafeValueError

_PROXY_VALUE = re.compile(r"^[A-Za-z0-9._:\[\]-]{0,300}$")


def read_setting(handset: Handset, namespace: str, key: str) -> str | None:
    """`settings get`: the raw value, or None for the literal "null" (key absent)."""
    out = handset.sh(cmd(W("settings"), W("get"), W(namespace), W(key))).stdout.strip()
    return None if out == "null" else out


def _check_proxy_value(value: str) -> str:
    if not _PROXY_VALUE.fullmatch(value):
        raise UnsafeValueError(f"refusing to write http_proxy value {value!r} back to the handset")
    return value


def ensure_reverse(handset: Handset, journal: Journal, port: int) -> None:
    """`adb reverse tcp:PORT tcp:PORT`, journaled unless it already exists."""
    spec = check_adb_socket(f"tcp:{check_port(port)}")
    existing = {r.remote: r.local for r in handset.reverse_list()}
    if existing.get(spec) == spec:
        journal.note(f"adb reverse {spec} {spec} already existed; left in place")
        return
    entry = journal.begin("reverse", remote=spec, local=spec, previous_local=existing.get(spec))
    handset.reverse(spec, spec)
    journal.done(entry)


def set_proxy(handset: Handset, journal: Journal, port: int) -> None:
    port = check_port(port)
    ensure_reverse(handset, journal, port)
    previous = read_setting(handset, "global", "http_proxy")
    entry = journal.begin("http_proxy", previous=previous)
    handset.sh(cmd(W("settings"), W("put"), W("global"), W("http_proxy"), f"127.0.0.1:{port}"))
    journal.done(entry)


def undo_http_proxy(handset: Handset, undo: dict) -> None:
    previous = undo.get("previous")
    if previous is not None:
        previous = _check_proxy_value(str(previous))
    current = read_setting(handset, "global", "http_proxy")
    if previous is None:
        if current is None:
            return
        handset.sh(cmd(W("settings"), W("put"), W("global"), W("http_proxy"), W(":0")))
        handset.sh(cmd(W("settings"), W("delete"), W("global"), W("http_proxy")))
        return
    if current != previous:
        handset.sh(cmd(W("settings"), W("put"), W("global"), W("http_proxy"), previous))


def undo_reverse(handset: Handset, undo: dict) -> None:
    remote = check_adb_socket(undo["remote"])
    previous = undo.get("previous_local")
    current = {r.remote: r.local for r in handset.reverse_list()}
    if previous:
        if current.get(remote) != previous:
            handset.reverse(remote, check_adb_socket(previous))
    elif remote in current:
        handset.reverse_remove(remote)
