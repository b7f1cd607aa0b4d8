"""Device resolution and the frida-server version check."""

from __future__ import annotations

import frida
import pytest

from harness.config.lab import FridaMode
from harness.errors import InstrumentError
from harness.instrument.device import ResolvedDevice, check_server, release_asset, resolve_device


def test_local_mode_is_frida_local_device_and_needs_no_server() -> None:
    resolved = resolve_device("local", "virtual:vendor-1.0")
    assert resolved.device.type == "local"
    info = check_server(resolved, server_version="1.0.0")
    assert info.server_version is None and info.host_version == frida.__version__


def _as_phone() -> ResolvedDevice:
    # frida's local device answers query_system_parameters like a reachable frida-server
    return ResolvedDevice(frida.get_local_device(), FridaMode.USB, "R58M123ABC")


def test_mismatched_server_is_refused_with_the_binary_to_use() -> None:
    with pytest.raises(InstrumentError) as info:
        check_server(_as_phone(), server_version="16.1.4", abi="arm64-v8a")
    message = str(info.value)
    assert "frida-server 16.1.4 on R58M123ABC" in message
    assert f"needs frida-server {frida.__version__} for android-arm64" in message
    assert message.endswith(f"frida-server-{frida.__version__}-android-arm64.xz")


def test_garbage_version_output_is_refused() -> None:
    with pytest.raises(InstrumentError, match="of unknown version"):
        check_server(_as_phone(), server_version="/system/bin/sh: frida-server: not found", abi="x86_64")


def test_matching_server_passes() -> None:
    info = check_server(_as_phone(), server_version=frida.__version__, abi="armeabi-v7a")
    assert info.server_version == frida.__version__ and info.arch == "armeabi-v7a"


def test_release_asset_names() -> None:
    assert release_asset("17.26.2", "x64") == "frida-server-17.26.2-android-x86_64.xz"
    assert release_asset("17.26.2", "armeabi-v7a") == "frida-server-17.26.2-android-arm.xz"


def test_unknown_usb_device_is_an_instrument_error() -> None:
    with pytest.raises(InstrumentError, match="frida sees no USB device"):
        resolve_device("usb", "NO-SUCH-PHONE-123", timeout=1)


def test_instrumentation_from_a_lab_device_entry(tmp_path) -> None:
    from harness.config.lab import DeviceEntry
    from harness.instrument import Instrumentation, Part

    entry = DeviceEntry(serial="virtual:vendor-1.0", frida="local")
    with Instrumentation(entry, entry.serial, tmp_path, ["network", "sensitive"], ["com.vendor.bank"]) as inst:
        assert inst.parts_for("com.vendor.bank") == (Part.SENSITIVE, Part.NETWORK, Part.UNPIN)
        assert inst.parts_for("com.vendor.weather") == (Part.SENSITIVE, Part.NETWORK)
        with pytest.raises(InstrumentError, match="needs a command line"):
            inst.spawn("com.vendor.weather")
        with pytest.raises(InstrumentError, match="not instrumented"):
            inst.detach("com.vendor.weather")
    assert (tmp_path / "hooks.jsonl").exists() and inst.stats.events == 0
    with pytest.raises(InstrumentError, match="closed"):
        inst.attach("com.vendor.weather", 1)
