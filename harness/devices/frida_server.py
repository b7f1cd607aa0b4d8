"""frida-server on real handsets: push the binary lab.yaml names (or the asset for the
handset's ABI from the folder it names, frida_binary.py: checked and unpacked here before
any push), refuse a version other than the Python frida's (the usual cause of "unable to
communicate with remote frida-server"), start it as root, journal all of it. Without a
lab.yaml binary, a frida-server of the right version already in /data/local/tmp is
started. Virtual handsets run their apps on this machine, so Frida's local device
reaches them and no server is needed.
"""

from __future__ import annotations

import time
from pathlib import Path

import frida

from harness.devices.frida_binary import asset_name, choose, load
from harness.devices.handset import Handset, RootMethod
from harness.devices.journal import Journal
from harness.devices.paths import FRIDA_SERVER_BACKUP_PATH, FRIDA_SERVER_PATH
from harness.devices.shellquote import W, check_int, check_path, cmd
from harness.errors import DeviceCommandError, InstrumentError


def server_asset(abi: str, version: str | None = None) -> str:
    """The release asset that matches this handset and the Python frida."""
    return asset_name(abi, version or frida.__version__)


def parse_version(text: str) -> str | None:
    for line in reversed(text.strip().splitlines()):
        word = line.strip()
        if word and word[0].isdigit() and "." in word:
            return word
    return None


def running_pids(handset: Handset) -> list[int]:
    out = handset.sh(cmd(W("pidof"), W("frida-server")), check=False).stdout
    return [int(w) for w in out.split() if w.isdigit()]


def ensure_frida_server(handset: Handset, journal: Journal, binary: Path | None, abi: str,
                        *, virtual: bool, expected: str | None = None) -> str | None:
    """Make a frida-server of version `expected` run on the handset; return its version."""
    expected = expected or frida.__version__
    if virtual:
        journal.note("frida-server: virtual handset, Frida's local device is used; no server pushed")
        return None
    if handset.root == RootMethod.NONE:
        raise InstrumentError(
            f"frida-server needs root and handset {handset.serial} is not rooted "
            "(no working `su`, adbd not root)"
        )
    pids = running_pids(handset)
    if pids:
        present = parse_version(handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False).stdout)
        if present == expected:
            journal.note(f"frida-server {present} was already running (pids {pids}); left as is")
            return present
        raise InstrumentError(
            f"a frida-server (version {present or 'unknown'}) already runs on {handset.serial}, "
            f"but the Python frida is {expected}; stop it (`adb shell su -c 'killall frida-server'`) "
            f"and name {server_asset(abi, expected)} (unpacked) as frida_server in lab.yaml"
        )
    if binary is None:
        present = parse_version(handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False).stdout)
        if present == expected:
            entry = journal.begin("frida_server", path=FRIDA_SERVER_PATH, backup=None, pushed=False,
                                  started_pids=[])
            journal.done(entry, started_pids=_start(handset))
            return present
        raise InstrumentError(
            f"lab.yaml names no frida_server for {handset.serial} and {FRIDA_SERVER_PATH} is "
            f"{'frida-server ' + present if present else 'not a frida-server that runs there'}; download "
            f"{server_asset(abi, expected)} (or a folder of assets) and set devices[].frida_server"
        )
    data = load(choose(Path(binary), abi, expected), abi, expected)
    existed = handset.exists(FRIDA_SERVER_PATH)
    entry = journal.begin("frida_server", path=FRIDA_SERVER_PATH, backup=FRIDA_SERVER_BACKUP_PATH if existed else None,
                          pushed=True, started_pids=[])
    if existed:
        handset.su(cmd(W("mv"), FRIDA_SERVER_PATH, FRIDA_SERVER_BACKUP_PATH))
    handset.push_bytes(data, FRIDA_SERVER_PATH, 0o755)
    handset.su(cmd(W("chmod"), W("755"), FRIDA_SERVER_PATH))
    version = parse_version(handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False).stdout)
    if version != expected:
        undo_frida_server(handset, entry.undo)
        journal.drop(entry)
        raise InstrumentError(
            f"{binary} is frida-server {version or '(does not run on this handset)'}, but the "
            f"Python frida is {expected}: use {server_asset(abi, expected)}"
        )
    journal.done(entry, started_pids=_start(handset))
    return version


def _start(handset: Handset) -> list[int]:
    """Start the frida-server at FRIDA_SERVER_PATH as root; its pids once it runs."""
    handset.su(cmd(FRIDA_SERVER_PATH, W("-D")), check=False, timeout=30)
    for _ in range(50):
        pids = running_pids(handset)
        if pids:
            return pids
        time.sleep(0.1)
    raise DeviceCommandError(f"frida-server did not start on {handset.serial}")


def undo_frida_server(handset: Handset, undo: dict) -> None:
    started = [check_int(p, 1, 2**22) for p in undo.get("started_pids") or []]
    alive = running_pids(handset)
    for pid in started:
        if pid in alive:
            handset.su(cmd(W("kill"), pid), check=False)
    if undo.get("pushed") and not started:
        # killed between start and journaling: any frida-server running is ours
        for pid in alive:
            handset.su(cmd(W("kill"), pid), check=False)
    if undo.get("pushed"):
        handset.su(cmd(W("rm"), W("-f"), check_path(undo.get("path", FRIDA_SERVER_PATH))), check=False)
    backup = undo.get("backup")
    if backup and handset.exists(check_path(backup), as_root=True):
        handset.su(cmd(W("mv"), check_path(backup), check_path(undo.get("path", FRIDA_SERVER_PATH))))


def restart_frida_server(handset: Handset, journal: Journal, expected: str | None = None) -> str | None:
    """After a reboot: start the frida-server pushed earlier again (journaled)."""
    expected = expected or frida.__version__
    if running_pids(handset):
        return parse_version(handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False).stdout)
    version = parse_version(handset.sh(cmd(FRIDA_SERVER_PATH, W("--version")), check=False).stdout)
    if version != expected:
        raise InstrumentError(f"frida-server at {FRIDA_SERVER_PATH} is {version}, not {expected}, after the reboot")
    entry = journal.begin("frida_server", path=FRIDA_SERVER_PATH, backup=None, pushed=False, started_pids=[])
    handset.su(cmd(FRIDA_SERVER_PATH, W("-D")), check=False, timeout=30)
    pids: list[int] = []
    for _ in range(50):
        pids = running_pids(handset)
        if pids:
            break
        time.sleep(0.1)
    journal.done(entry, started_pids=pids)
    return version
