"""What lab doctor looks for, on the virtual handset's shell (in process, no ADB): an
executable of another ABI refused as mksh refuses it, `od` of its header, the screen and
keyguard (keys, wm dismiss-keyguard, locksettings; dumpsys window policy / power), SELinux,
a loopback firewall stopping `nc`, free space, the clock, and mount namespaces: a CA bound
into the zygotes' namespaces reaches a zygote's child but not an app an app zygote forked."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from support.elf_files import server_bytes
from support.shell_host import Host

from harness.virtual.spec import HANDSETS_DIR

SERVER = "/data/local/tmp/frida-server"
APEX = "/apex/com.android.conscrypt/cacerts"
NOTES = "org.example.notes"


def spec_with_faults(tmp_path: Path, base: str, **faults: object) -> Path:
    data = yaml.safe_load((HANDSETS_DIR / f"{base}.yaml").read_text())
    data["faults"] = faults
    path = tmp_path / f"{base}-faulty.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def a14() -> Host:
    return Host("rooted-a14")


@pytest.mark.parametrize(("abi", "answer"), [
    ("x86_64", "not executable: 64-bit ELF file"),
    ("x86", "not executable: 32-bit ELF file"),
])
def test_a_binary_of_another_abi_does_not_run(a14, abi, answer):
    a14.state.files.write(SERVER, server_bytes(abi, "17.26.2"), 0o755)
    assert a14.run(f"{SERVER} --version") == ("", f"/system/bin/sh: {SERVER}: {answer}\n", 126)


def test_a_binary_of_the_handsets_abis_runs(a14):
    for abi in ("arm64-v8a", "armeabi-v7a"):  # abilist: arm64-v8a,armeabi-v7a,armeabi
        a14.state.files.write(SERVER, server_bytes(abi, "17.26.2"), 0o755)
        assert a14.run(f"{SERVER} --version") == ("17.26.2\n", "", 0)


def test_od_prints_the_header_bytes(a14):
    a14.state.files.write(SERVER, server_bytes("arm64-v8a", "17.26.2"), 0o755)
    out, err, code = a14.run(f"od -A n -t x1 -N 20 {SERVER}")
    assert (out, code) == (" 7f 45 4c 46 02 01 01 00 00 00 00 00 00 00 00 00\n 03 00 b7 00\n", 0)
    assert a14.run("echo hi | od -A d -t x1") == ("0000000 68 69 0a\n0000003\n", "", 0)
    assert a14.run("od -t x1 /data/local/tmp/none")[1:] == ("od: /data/local/tmp/none: No such file or directory\n", 1)


def _policy(host: Host) -> dict[str, str]:
    out = host.run("dumpsys window policy")[0]
    return dict(line.strip().split("=", 1) for line in out.splitlines()
                if line.strip().count("=") == 1)


def test_power_key_locks_a_swipe_lock_and_wm_dismiss_keyguard_unlocks_it(a14):
    assert a14.run("locksettings get-disabled")[0] == "true\n"  # no lock: a lab phone's setting
    a14.run("input keyevent 26")
    assert "mWakefulness=Asleep" in a14.run("dumpsys power")[0]
    assert _policy(a14)["mIsShowing"] == "false"  # screen off, but no keyguard without a lock
    a14.run("input keyevent KEYCODE_WAKEUP")
    assert a14.run("locksettings set-disabled false") == ("Lock screen disabled set to false\n", "", 0)
    a14.run("input keyevent POWER")
    power = a14.run("dumpsys power")[0]
    assert "mWakefulness=Asleep" in power and "Display Power: state=OFF" in power
    policy = _policy(a14)
    assert policy["screenState"] == "SCREEN_STATE_OFF" and policy["mIsShowing"] == "true"
    a14.run("wm dismiss-keyguard")  # the screen is off: nothing to dismiss on
    a14.run("input keyevent 224")
    policy = _policy(a14)
    assert (policy["screenState"], policy["mIsShowing"], policy["mInputRestricted"]) == (
        "SCREEN_STATE_ON", "true", "true")
    assert "mCurrentFocus=Window{9c1f3a2 u0 NotificationShade}" in a14.run("dumpsys window")[0]
    assert a14.run("wm dismiss-keyguard") == ("", "", 0)
    assert _policy(a14)["mIsShowing"] == "false"
    assert "NotificationShade" not in a14.run("dumpsys window")[0]


def test_a_pin_keeps_the_keyguard_up(a14):
    assert a14.run("locksettings set-pin 1234") == ("Pin set to '1234'\n", "", 0)
    a14.run("input keyevent 26; input keyevent 224; wm dismiss-keyguard; input keyevent 82")
    assert _policy(a14)["mIsShowing"] == "true" and _policy(a14)["secure"] == "true"
    assert a14.run("locksettings clear")[0] == "Old password '' didn't match\n"
    assert a14.run("locksettings clear --old 1234") == ("Lock credential cleared\n", "", 0)
    a14.run("wm dismiss-keyguard")
    assert _policy(a14)["mIsShowing"] == "false"


def test_selinux_mode(a14):
    assert a14.run("getenforce")[0] == "Enforcing\n"
    assert a14.run("setenforce 0")[2] == 1
    assert a14.run("su -c 'setenforce 0'; getenforce")[0] == "Permissive\n"


def test_a_firewall_rule_on_the_loopback_stops_nc(a14):
    listener = socket.create_server((a14.state.device_loopback, 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"got " + conn.recv(100))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    assert a14.run(f"echo probe | nc -w 2 127.0.0.1 {port}") == ("got probe\n", "", 0)
    thread.join(5)
    rule = f"OUTPUT -o lo -p tcp --dport {port} -j REJECT"
    assert a14.run(f"iptables -A {rule}")[2] == 3  # not as the shell user
    a14.run(f"su -c 'iptables -A {rule}'")
    assert f"-A {rule}\n" in a14.run("su -c 'iptables -S'")[0]
    assert a14.run(f"echo probe | nc -w 2 127.0.0.1 {port}") == ("", "nc: connect: Connection refused\n", 1)
    a14.run(f"su -c 'iptables -D {rule}'")
    assert not a14.state.conditions.loopback_blocked(port)
    listener.close()


def test_free_space_and_clock_come_from_the_spec(tmp_path):
    host = Host(str(spec_with_faults(tmp_path, "rooted-a14", data_free_mb=120, clock_skew=-3600)))
    out = host.run("df /data")[0].splitlines()
    assert out[0].split() == ["Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted", "on"]
    assert out[1].split()[3] == str(120 * 1024) and out[1].split()[-1] == "/data"
    assert abs(int(host.run("date +%s")[0]) - (time.time() - 3600)) < 5


def test_adb_unauthorized_is_a_spec_fault(tmp_path):
    assert Host(str(spec_with_faults(tmp_path, "reference", adb_unauthorized=True))).state.spec.faults.adb_unauthorized


def _install_ca_like_the_harness(host: Host) -> None:
    """tmpfs + APEX bind in the shell's namespace, each zygote's, each zygote child's."""
    host.state.files.write("/data/local/tmp/c8750f0d.0", b"-----BEGIN CERTIFICATE-----\nMITM\n", 0o644)
    steps = [
        "mkdir -p /data/local/tmp/ca", f"cp {APEX}/* /data/local/tmp/ca/",
        "mount -t tmpfs tmpfs /system/etc/security/cacerts",
        "cp /data/local/tmp/ca/* /system/etc/security/cacerts/",
        "cp /data/local/tmp/c8750f0d.0 /system/etc/security/cacerts/",
        f"mount --bind /system/etc/security/cacerts {APEX}",
    ]
    for line in steps:
        assert host.run(f"su -c '{line}'")[2] == 0, line
    zygotes = host.run("pidof zygote zygote64")[0].split()
    children = [p for z in zygotes for p in host.run(f"ps -o PID -P {z}")[0].split()[1:]]
    for pid in zygotes + children:
        line = f"nsenter --mount=/proc/{pid}/ns/mnt -- /bin/mount --bind /system/etc/security/cacerts {APEX}"
        assert host.run(f"su -c '{line}'")[2] == 0, pid


def _sees_ca(host: Host, pid: str) -> bool:
    line = f"nsenter --mount=/proc/{pid}/ns/mnt -- ls {APEX}"
    return "c8750f0d.0" in host.run(f"su -c '{line}'")[0]


def test_the_apex_bind_mount_stays_in_its_namespace(a14):
    a14.run(f"su -c 'mount -t tmpfs tmpfs /system/etc/security/cacerts; mount --bind /system/etc/security/cacerts {APEX}'")
    assert "tmpfs on /apex/com.android.conscrypt/cacerts" in a14.run("mount")[0]
    assert "tmpfs on /system/etc/security/cacerts" in a14.run("su -c 'nsenter --mount=/proc/369/ns/mnt -- mount'")[0]
    assert "/apex/com.android.conscrypt/cacerts type" not in a14.run("su -c 'nsenter -t 369 -m -- mount'")[0]
    assert a14.run("su -c 'nsenter --mount=/proc/4242/ns/mnt -- true'")[1:] == (
        "nsenter: cannot open /proc/4242/ns/mnt: No such file or directory\n", 1)


def test_a_ca_bound_after_an_app_zygote_forked_its_app_misses_that_app(tmp_path):
    host = Host(str(spec_with_faults(tmp_path, "rooted-a14", app_zygote=[NOTES])))
    host.run(f"am start -n {NOTES}/.MainActivity")
    host.state.process_started(NOTES)  # the app runner does this when it forks the JVM
    app = host.run(f"pidof {NOTES}")[0].strip()
    rows = {r.split()[0]: r.split() for r in host.run("ps -A -o PID,PPID,NAME")[0].splitlines()[1:]}
    assert rows[app][1] != "369" and rows[rows[app][1]][2] == f"{NOTES}_zygote"
    _install_ca_like_the_harness(host)
    assert _sees_ca(host, "369") and _sees_ca(host, "4137") and _sees_ca(host, rows[app][1])
    assert not _sees_ca(host, app)
    assert b"MITM" not in b"".join(host.state.trusted_ca_pems(package=NOTES))
    assert b"MITM" in b"".join(host.state.trusted_ca_pems())  # an app started now would see it
    host.run(f"am force-stop {NOTES}; am start -n {NOTES}/.MainActivity")
    host.state.process_started(NOTES)
    assert _sees_ca(host, host.run(f"pidof {NOTES}")[0].strip())
    assert b"MITM" in b"".join(host.state.trusted_ca_pems(package=NOTES))
    host.state.reboot()
    assert not _sees_ca(host, "369")


def test_nc_reaches_the_world_only_through_the_wireguard_tunnel(a14):
    """With no tunnel up (no WireGuard app holding the network) a world address has no route;
    nc takes IP addresses only (lab doctor's WireGuard probe: run/tunnel_probe.py)."""
    assert a14.run("echo x | nc -w 1 192.0.2.1 80") == ("", "nc: connect: Network is unreachable\n", 1)
    assert a14.run("echo x | nc -w 1 lab-doctor.invalid 80") == ("", "nc: bad address 'lab-doctor.invalid'\n", 1)


def test_wireguard_blocked_is_a_spec_fault(tmp_path):
    host = Host(str(spec_with_faults(tmp_path, "vendor-1.0", wireguard_blocked=True)))
    assert host.state.spec.faults.wireguard_blocked
