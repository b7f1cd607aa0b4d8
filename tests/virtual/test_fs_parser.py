"""The in-memory file system's mounts and the shell parser's grammar."""

from __future__ import annotations

import pytest

from harness.virtual.fs import FileSystem, FsError
from harness.virtual.shell.parser import If, ParseError, Pipeline, parse


def test_tmpfs_hides_lower_files_until_umount() -> None:
    fs = FileSystem()
    fs.mkdir("/system/etc/security/cacerts", parents=True)
    fs.write("/system/etc/security/cacerts/a.0", b"A")
    fs.mount_tmpfs("/system/etc/security/cacerts")
    assert fs.listdir("/system/etc/security/cacerts") == []
    fs.write("/system/etc/security/cacerts/b.0", b"B")
    fs.mkdir("/apex/x/cacerts", parents=True)
    fs.mount_bind("/system/etc/security/cacerts", "/apex/x/cacerts")
    assert [n for n, _ in fs.listdir("/apex/x/cacerts")] == ["b.0"]
    assert "tmpfs on /apex/x/cacerts type tmpfs" in "\n".join(fs.mount_lines())
    assert "tmpfs /apex/x/cacerts tmpfs rw,seclabel,relatime 0 0\n" in fs.proc_mounts()
    with pytest.raises(FsError) as e:
        fs.remove("/system/etc/security/cacerts", recursive=True)
    assert e.value.kind == "EBUSY"
    fs.umount("/apex/x/cacerts")
    fs.umount("/system/etc/security/cacerts")
    assert [n for n, _ in fs.listdir("/system/etc/security/cacerts")] == ["a.0"]
    with pytest.raises(FsError):
        fs.umount("/system/etc/security/cacerts")


def test_symlinks_resolve() -> None:
    fs = FileSystem()
    fs.mkdir("/storage/emulated/0", parents=True)
    fs.symlink("/storage/emulated/0", "/sdcard")
    fs.write("/sdcard/x", b"1")
    assert fs.read("/storage/emulated/0/x") == b"1"
    assert fs.lookup("/sdcard", follow=False).is_link


def test_parser_shapes() -> None:
    tree = parse("a | b && c || d; e &")
    (first, bg1), (second, bg2) = tree.items
    assert isinstance(first.first, Pipeline) and len(first.first.cmds) == 2 and len(first.rest) == 2
    assert (bg1, bg2) == (False, True)
    assert isinstance(parse("if x; then y; elif z; then w; else v; fi").items[0][0].first.cmds[0], If)
    for bad in ("if x; then y", "a &&", "echo 'x", "( a", "for 1 in x; do y; done"):
        with pytest.raises(ParseError):
            parse(bad)
