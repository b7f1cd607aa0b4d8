"""The virtual handset through the real adb binary and adbutils (acceptance of issue 3)."""

from __future__ import annotations

import os
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def fake_apk(path: Path, package: str, version: int = 5) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("AndroidManifest.xml",
                   f'<manifest package="{package}" android:versionCode="{version}" android:versionName="{version}.0">'
                   '<uses-permission android:name="android.permission.CAMERA"/>'
                   '<activity android:name=".Main"/></manifest>')
        z.writestr("classes.dex", b"dex\n035\0" + os.urandom(2000))
    return path


def test_adb_command_line(virtual_handset, tmp_path: Path) -> None:
    h = virtual_handset("reference")
    adb = h.adb
    devices = adb.run("devices", "-l").stdout
    assert f"{h.serial}" in devices and "model:Pixel_7" in devices and "product:panther" in devices
    out = adb.run("-s", h.serial, "shell", "getprop", "ro.build.fingerprint")
    assert out.stdout == "google/panther/panther:14/AP2A.240605.024/11860263:user/release-keys\n"
    assert adb.run("-s", h.serial, "shell", "exit 3").returncode == 3
    missing = adb.run("-s", h.serial, "shell", "nosuch")
    assert missing.returncode == 127 and "nosuch: inaccessible or not found" in missing.stderr
    # 5 MB push/pull round trip
    blob = os.urandom(5 * 1024 * 1024)
    (tmp_path / "in.bin").write_bytes(blob)
    assert adb.run("-s", h.serial, "push", str(tmp_path / "in.bin"), "/data/local/tmp/in.bin").returncode == 0
    assert adb.run("-s", h.serial, "pull", "/data/local/tmp/in.bin", str(tmp_path / "out.bin")).returncode == 0
    assert (tmp_path / "out.bin").read_bytes() == blob
    denied = adb.run("-s", h.serial, "push", str(tmp_path / "in.bin"), "/system/in.bin")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr + denied.stdout
    # install
    inst = adb.run("-s", h.serial, "install", str(fake_apk(tmp_path / "x.apk", "com.example.fake")))
    assert inst.returncode == 0 and "Success" in inst.stdout
    assert "package:com.example.fake\n" in adb.run("-s", h.serial, "shell", "pm list packages").stdout
    assert adb.run("-s", h.serial, "uninstall", "com.example.fake").stdout.strip() == "Success"
    assert "com.example.fake" not in adb.run("-s", h.serial, "shell", "pm list packages").stdout
    bad = tmp_path / "bad.apk"
    bad.write_bytes(b"not a zip")
    res = adb.run("-s", h.serial, "install", str(bad))
    assert res.returncode != 0 and "INSTALL_PARSE_FAILED_NOT_APK" in res.stdout + res.stderr
    # settings
    adb.run("-s", h.serial, "shell", "settings", "put", "global", "http_proxy", "127.0.0.1:8080")
    assert adb.run("-s", h.serial, "shell", "settings get global http_proxy").stdout == "127.0.0.1:8080\n"


def test_reverse_tunnel_carries_bytes(virtual_handset) -> None:
    h = virtual_handset("reference")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    host_port = listener.getsockname()[1]

    def echo() -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    assert h.adb.run("-s", h.serial, "reverse", "tcp:8080", f"tcp:{host_port}").returncode == 0
    listing = h.adb.run("-s", h.serial, "reverse", "--list").stdout
    assert f"tcp:8080 tcp:{host_port}" in listing
    payload = os.urandom(2_000_000)
    got = bytearray()
    with socket.create_connection((h.process.device_loopback, 8080), timeout=20) as c:
        reader = threading.Thread(target=lambda: [got.extend(d) for d in iter(lambda: c.recv(65536), b"")
                                                   if len(got) < len(payload)])
        c.sendall(payload)
        deadline = time.monotonic() + 20
        while len(got) < len(payload) and time.monotonic() < deadline:
            d = c.recv(65536)
            if not d:
                break
            got.extend(d)
        del reader
    listener.close()
    assert bytes(got) == payload
    # a reverse towards a host port nobody listens on: the app's connection just closes
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    assert h.adb.run("-s", h.serial, "reverse", "tcp:8081", f"tcp:{dead_port}").returncode == 0
    with socket.create_connection((h.process.device_loopback, 8081), timeout=10) as c:
        c.settimeout(10)
        assert c.recv(10) == b""
    assert h.device.shell("echo ok") == "ok"
    assert h.adb.run("-s", h.serial, "reverse", "--remove-all").returncode == 0
    assert h.adb.run("-s", h.serial, "reverse", "--list").stdout.strip() == ""
    with pytest.raises(OSError):
        socket.create_connection((h.process.device_loopback, 8080), timeout=2).close()


def test_adbutils_helpers(virtual_handset, tmp_path: Path) -> None:
    h = virtual_handset("vendor-1.0")
    d = h.device
    assert d.getprop("ro.product.model") == "VC-8 Pro"
    assert d.prop.model == "VC-8 Pro" and d.prop.device == "vc8pro"
    assert d.shell2("sh -c 'exit 5'").returncode == 5
    assert d.shell2("exit 6", v2=True).returncode == 6
    assert d.shell2("echo hi", v2=True).output == "hi\n"
    assert "com.vendor.weather" in d.list_packages()
    assert "com.vendor.telemetry" not in d.list_packages(["-3"])
    info = d.app_info("com.vendor.weather")
    assert info is not None and info.version_name == "3.1.0" and info.version_code == 12
    assert info.first_install_time is not None
    d.install(str(fake_apk(tmp_path / "y.apk", "com.example.other", 9)), nolaunch=True)
    assert "com.example.other" in d.list_packages()
    data = os.urandom(300_000)
    d.sync.push(data, "/sdcard/Download/blob.bin")
    assert d.sync.read_bytes("/sdcard/Download/blob.bin") == data
    assert d.sync.stat("/sdcard/Download/blob.bin").size == len(data)
    entries = {e.path: e for e in d.sync.list("/sdcard/Download")}
    assert entries["blob.bin"].size == len(data) and {".", ".."} <= set(entries)
    d.sync.pull("/sdcard/Download/blob.bin", str(tmp_path / "blob.bin"))
    assert (tmp_path / "blob.bin").read_bytes() == data
    d.reverse("tcp:9100", "tcp:9200")
    assert any(r.remote == "tcp:9100" and r.local == "tcp:9200" for r in d.reverse_list())
    assert d.window_size() == (1080, 2400)
    d.app_start("com.vendor.weather", ".MainActivity")
    current = d.app_current()
    assert current.package == "com.vendor.weather" and current.activity.endswith("MainActivity")
    assert d.shell("su -c id") == "uid=0(root) gid=0(root) groups=0(root) context=u:r:magisk:s0"


def test_state_dump_through_adb(virtual_handset) -> None:
    h = virtual_handset("vendor-1.0")
    before = h.state_dump()
    assert "http_proxy" not in before["settings"]["global"]
    assert any("com.vendor.weather" in line for line in before["packages"])
    assert "cacerts" in before["files"] and "/dev/block" in before["mounts"]
    h.device.shell("settings put global http_proxy 127.0.0.1:8080")
    h.device.reverse("tcp:8080", "tcp:8081")
    after = h.state_dump()
    assert "http_proxy=127.0.0.1:8080" in after["settings"]["global"]
    assert after["reverse"] == ["tcp:8080 tcp:8081"]
    h.device.shell("settings delete global http_proxy")
    h.device.reverse_remove_all()
    assert h.state_dump() == before


def test_two_handsets_at_once(virtual_handset) -> None:
    a = virtual_handset("vendor-1.0")
    b = virtual_handset("vendor-1.1")
    assert a.serial != b.serial and a.process.device_loopback != b.process.device_loopback
    assert a.device.getprop("ro.build.version.security_patch") == "2023-05-05"
    assert b.device.getprop("ro.build.version.security_patch") == "2023-11-05"
    a.device.shell("settings put global http_proxy 127.0.0.1:1111")
    assert b.device.shell("settings get global http_proxy") == "null"


def test_reboot_comes_back_and_keeps_settings(virtual_handset) -> None:
    h = virtual_handset("reference")
    h.device.shell("settings put global http_proxy 127.0.0.1:8080")
    h.device.reverse("tcp:8080", "tcp:8081")
    h.adb.run("-s", h.serial, "reboot", timeout=30)
    deadline = time.monotonic() + 20
    while h.adb.run("-s", h.serial, "get-state", timeout=10).stdout.strip() == "device":
        assert time.monotonic() < deadline, "the handset never went offline"
        time.sleep(0.1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        h.adb.run("connect", h.serial, timeout=10)
        if h.adb.run("-s", h.serial, "get-state", timeout=10).stdout.strip() == "device":
            break
        time.sleep(0.5)
    assert h.device.shell("settings get global http_proxy") == "127.0.0.1:8080"
    assert h.device.reverse_list() == []


def _wait_device(h, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h.adb.run("connect", h.serial, timeout=10)
        if h.adb.run("-s", h.serial, "get-state", timeout=10).stdout.strip() == "device":
            return
        time.sleep(0.3)
    raise AssertionError(f"{h.serial} did not come back")


def test_adb_root_on_userdebug_and_forward(virtual_handset) -> None:
    ref = virtual_handset("reference")
    assert ref.adb.run("-s", ref.serial, "root").stdout == "adbd cannot run as root in production builds\n"
    h = virtual_handset("vendor-1.0")
    assert "restarting adbd as root" in h.adb.run("-s", h.serial, "root", timeout=30).stdout
    _wait_device(h)
    out = h.adb.run("-s", h.serial, "shell", "id").stdout
    assert out.startswith("uid=0(root) gid=0(root) groups=0(root),1004(input)") and "context=u:r:su:s0" in out
    assert h.adb.run("-s", h.serial, "shell", "mount -t tmpfs tmpfs /system/etc/security/cacerts").returncode == 0
    assert "restarting adbd as non root" in h.adb.run("-s", h.serial, "unroot", timeout=30).stdout
    _wait_device(h)
    assert h.adb.run("-s", h.serial, "shell", "id -u").stdout == "2000\n"
    # adb forward reaches a socket on the handset's own loopback
    listener = socket.socket()
    listener.bind((h.process.device_loopback, 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"hello from the handset")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    res = h.adb.run("-s", h.serial, "forward", "tcp:0", f"tcp:{listener.getsockname()[1]}")
    with socket.create_connection(("127.0.0.1", int(res.stdout.strip())), timeout=10) as c:
        assert c.recv(100) == b"hello from the handset"
    listener.close()


def test_interactive_shell_and_streaming_logcat(virtual_handset) -> None:
    h = virtual_handset("reference")
    piped = h.adb.run("-s", h.serial, "shell", input=b"getprop ro.product.model\nfalse\necho $?\n")
    assert piped.stdout == b"Pixel 7\n1\n" and piped.returncode == 0
    conn = h.device.shell("logcat -v time", stream=True)
    try:
        conn.conn.settimeout(10)
        first = conn.conn.recv(4096).decode()
        assert first.startswith("--------- beginning of main\n") and "I/SystemServer(" in first
        h.device.shell("am start -n org.example.notes/.MainActivity")
        later = b""
        deadline = time.monotonic() + 10
        while b"ActivityTaskManager" not in later and time.monotonic() < deadline:
            later += conn.conn.recv(4096)
        assert b"START u0 {cmp=org.example.notes/.MainActivity}" in later
    finally:
        conn.close()
    assert h.device.shell("echo alive") == "alive"


def test_line_discipline() -> None:
    from harness.virtual.terminal import LineDiscipline

    d = LineDiscipline()
    echo, lines, eof = d.feed(b"ls\x7fs -l\r")
    assert (echo, lines, eof) == (b"ls\b \bs -l\r\n", ["ls -l"], False)
    assert d.feed(b"\x04") == (b"", [], True)
