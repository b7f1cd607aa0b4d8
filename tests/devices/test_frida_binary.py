"""frida-server by ABI: a folder of release assets gives the one for the handset's ABI and
the Python frida's version; a wrong version or ABI is refused before any push (the name,
then the ELF header's class and e_machine); .xz assets are unpacked here. Synthetic ELF
files (a header and a version marker) in tmp_path."""

from __future__ import annotations

import lzma

import pytest
from support.elf_files import elf_header, server_bytes, write_server

from harness.devices.elf import NotElfError, parse_header, parse_od
from harness.devices.frida_binary import asset_name, choose, load
from harness.errors import InstrumentError

V = "17.26.2"


@pytest.mark.parametrize(("abi", "bits", "machine"), [
    ("arm64-v8a", 64, 183), ("armeabi-v7a", 32, 40), ("x86_64", 64, 62), ("x86", 32, 3),
])
def test_the_header_names_the_abi(abi, bits, machine):
    header = parse_header(elf_header(abi))
    assert (header.bits, header.machine, header.abi) == (bits, machine, abi)
    assert header.runs_on(abi)
    assert not header.runs_on("arm64-v8a" if abi != "arm64-v8a" else "x86_64")


def test_a_32_bit_arm_binary_is_not_the_abi_of_an_arm64_handset():
    assert not parse_header(elf_header("armeabi-v7a")).runs_on("arm64-v8a")


def test_od_output_is_read_back_to_bytes():
    text = " 7f 45 4c 46 02 01 01 00 00 00 00 00 00 00 00 00\n 03 00 b7 00\n"
    assert parse_header(parse_od(text)).abi == "arm64-v8a"
    with pytest.raises(NotElfError):
        parse_od("od: /data/local/tmp/frida-server: No such file or directory")
    with pytest.raises(NotElfError):
        parse_header(b"#!/system/bin/sh\necho 17.26.2\n")


def test_a_folder_gives_the_asset_of_the_handsets_abi_and_the_frida_version(tmp_path):
    for abi in ("armeabi-v7a", "x86_64", "x86"):
        write_server(tmp_path, abi, V, xz=True)
    write_server(tmp_path, "arm64-v8a", "16.1.4", xz=True)
    wanted = write_server(tmp_path, "arm64-v8a", V, xz=True)
    (tmp_path / "README.txt").write_text("not an asset")
    chosen = choose(tmp_path, "arm64-v8a", V)
    assert chosen.path == wanted and chosen.version == V and chosen.arch == "arm64"
    assert load(chosen, "arm64-v8a", V) == server_bytes("arm64-v8a", V)  # unpacked here
    assert choose(tmp_path, "x86", V).path.name == f"frida-server-{V}-android-x86.xz"


def test_an_unpacked_copy_is_preferred_to_unpacking(tmp_path):
    write_server(tmp_path, "arm64-v8a", V, xz=True)
    plain = write_server(tmp_path, "arm64-v8a", V)
    assert choose(tmp_path, "arm64-v8a", V).path == plain


def test_a_folder_without_the_asset_says_which_one_to_download(tmp_path):
    write_server(tmp_path, "arm64-v8a", "16.1.4", xz=True)
    write_server(tmp_path, "x86_64", V)
    with pytest.raises(InstrumentError) as info:
        choose(tmp_path, "arm64-v8a", V)
    message = str(info.value)
    assert f"no frida-server-{V}-android-arm64[.xz]" in message
    assert "frida-server-16.1.4-android-arm64.xz" in message and f"frida-server-{V}-android-x86_64" in message
    assert message.endswith(f"download {asset_name('arm64-v8a', V)} from "
                            f"https://github.com/frida/frida/releases/tag/{V} into it")


def test_a_wrong_version_in_the_name_is_refused_before_reading(tmp_path):
    path = write_server(tmp_path, "arm64-v8a", "16.1.4")
    with pytest.raises(InstrumentError, match=f"is frida-server 16.1.4, but the Python frida is {V}"):
        load(choose(path, "arm64-v8a", V), "arm64-v8a", V)


def test_a_wrong_arch_in_the_name_is_refused(tmp_path):
    path = write_server(tmp_path, "x86_64", V)
    with pytest.raises(InstrumentError, match="is for android-x86_64, but the handset is arm64-v8a"):
        load(choose(path, "arm64-v8a", V), "arm64-v8a", V)


def test_a_wrong_abi_header_is_refused_whatever_the_name(tmp_path):
    path = write_server(tmp_path, "x86_64", V, name="frida-server")  # a name that says nothing
    with pytest.raises(InstrumentError) as info:
        load(choose(path, "arm64-v8a", V), "arm64-v8a", V)
    assert "64-bit x86-64 ELF (x86_64), but the handset is arm64-v8a" in str(info.value)
    assert str(info.value).endswith(f"use frida-server-{V}-android-arm64.xz")
    lying = write_server(tmp_path, "armeabi-v7a", V, name=f"frida-server-{V}-android-arm64")
    with pytest.raises(InstrumentError, match="32-bit arm ELF"):
        load(choose(lying, "arm64-v8a", V), "arm64-v8a", V)


def test_something_else_than_an_executable_is_refused(tmp_path):
    page = tmp_path / f"frida-server-{V}-android-arm64"
    page.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(InstrumentError, match="is not a frida-server executable"):
        load(choose(page, "arm64-v8a", V), "arm64-v8a", V)
    broken = tmp_path / f"frida-server-{V}-android-arm.xz"
    broken.write_bytes(lzma.compress(server_bytes("armeabi-v7a", V), format=lzma.FORMAT_XZ)[:40])
    with pytest.raises(InstrumentError, match="cannot unpack"):
        load(choose(broken, "armeabi-v7a", V), "armeabi-v7a", V)


def test_an_unknown_abi_has_no_asset(tmp_path):
    with pytest.raises(InstrumentError, match="ABI 'mips' has no frida-server release"):
        choose(tmp_path, "mips", V)
