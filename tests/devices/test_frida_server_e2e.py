"""frida-server by ABI on a handset reached like a real phone (the virtual handset by its
serial, frida over USB): the folder's asset for the handset's ABI is unpacked and pushed;
a wrong-ABI or wrong-version binary is refused before anything is pushed; without a
lab.yaml binary, a right one already in /data/local/tmp is started."""

from __future__ import annotations

import re
from pathlib import Path

import frida
import pytest
from support.elf_files import write_server

from harness.config.lab import LabConfig
from harness.devices import device_entry, open_device
from harness.devices.frida_server import ensure_frida_server
from harness.devices.journal import Journal
from harness.devices.restore import restore
from harness.errors import InstrumentError

pytestmark = pytest.mark.e2e
V = frida.__version__
SERVER = "/data/local/tmp/frida-server"


def lab(tmp_path: Path, serial: str, frida_server: Path | None) -> LabConfig:
    return LabConfig.model_validate({
        "name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state",
        "devices": [{"serial": serial, "frida": "usb", "frida_server": frida_server}]})


def test_frida_server_is_chosen_by_abi_and_refused_before_the_push(virtual_handset, adb_server, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    vh = virtual_handset("rooted-a14")
    assets = tmp_path / "assets"
    assets.mkdir()
    for abi in ("armeabi-v7a", "x86_64", "x86"):
        write_server(assets, abi, V, xz=True)
    write_server(assets, "arm64-v8a", "16.1.4", xz=True)
    write_server(assets, "arm64-v8a", V, xz=True)
    config = lab(tmp_path, vh.serial, assets)
    handset = open_device(vh.serial, config, client=adb_server.client)
    entry = device_entry(config, vh.serial)
    assert handset.info.abi == "arm64-v8a"

    journal = Journal.create(vh.serial, config.state_dir / "a")
    assert ensure_frida_server(handset, journal, entry.frida_server, "arm64-v8a", virtual=False) == V
    assert vh.shell(f"{SERVER} --version") == (f"{V}\n", 0)
    assert vh.shell("pidof frida-server")[0].split()
    restore(handset, journal)
    assert vh.shell("pidof frida-server") == ("", 1) and vh.shell(f"ls {SERVER}")[1] != 0

    wrong = tmp_path / "frida-server"  # the right name for the handset's path, an x86_64 build
    write_server(tmp_path, "x86_64", V, name=wrong.name)
    for binary, said in ((wrong, "64-bit x86-64 ELF (x86_64), but the handset is arm64-v8a"),
                         (write_server(tmp_path, "arm64-v8a", "16.1.4"), "is frida-server 16.1.4")):
        journal = Journal.create(vh.serial, config.state_dir / "b")
        with pytest.raises(InstrumentError, match=re.escape(said)):
            ensure_frida_server(handset, journal, binary, "arm64-v8a", virtual=False)
        assert journal.entries == []  # refused before any change
        assert vh.shell(f"ls {SERVER}")[1] != 0, "nothing is pushed"

    vh.device.sync.push(str(write_server(tmp_path, "arm64-v8a", V, name="fs")), SERVER, 0o755)
    journal = Journal.create(vh.serial, config.state_dir / "c")
    assert ensure_frida_server(handset, journal, None, "arm64-v8a", virtual=False) == V
    assert [(e.kind, e.undo["pushed"]) for e in journal.entries] == [("frida_server", False)]
    restore(handset, journal)
    assert vh.shell("pidof frida-server") == ("", 1)
    assert vh.shell(f"ls {SERVER}") == (f"{SERVER}\n", 0), "a binary it did not push stays"
