"""What a capture folder holds, as the manifest sees it: its artifacts are the plain
files inside the folder, at any depth, dotfiles too, but for run.json (the manifest
itself) and report/ (written by `lab report` after the manifest, so never covered).

Nothing here follows a symbolic link: a link, a FIFO, a socket or a device is no
artifact (hashing it would read whatever it points at), and is named as such; a linked
folder is not entered.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.folder import REPORT_DIR, RUN_JSON
from harness.errors import CaptureError


@dataclass
class Contents:
    """The entries of a capture folder, as relative POSIX paths, each list sorted."""

    plain: list[str] = field(default_factory=list)  # plain files the manifest covers
    not_plain: list[str] = field(default_factory=list)  # links, FIFOs, sockets, devices
    report: list[str] = field(default_factory=list)  # plain files under report/


def capture_contents(run_dir: Path) -> Contents:
    contents = Contents()
    _walk(run_dir, "", contents)
    for names in (contents.plain, contents.not_plain, contents.report):
        names.sort()
    return contents


def _walk(folder: Path, prefix: str, contents: Contents) -> None:
    try:
        with os.scandir(folder) as entries:
            found = [(entry.name, entry.path, entry.stat(follow_symlinks=False).st_mode) for entry in entries]
    except OSError as e:
        raise CaptureError(f"{folder}: cannot list the capture folder ({e.strerror or e})") from e
    for entry_name, entry_path, mode in found:
        name = prefix + entry_name
        if stat.S_ISDIR(mode):
            _walk(Path(entry_path), name + "/", contents)
        elif not stat.S_ISREG(mode):
            contents.not_plain.append(name)
        elif name == RUN_JSON:
            continue
        elif name.startswith(REPORT_DIR + "/"):
            contents.report.append(name)
        else:
            contents.plain.append(name)


def kind_of(path: Path) -> str:
    """What is at `path`, not following a link: file, folder, link, fifo, socket, device, none."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "none"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"
