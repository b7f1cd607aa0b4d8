"""The virtual shell over a handset state: syntax, formats of real devices, errors."""

from __future__ import annotations

import pytest
from support.elf_files import server_bytes
from support.shell_host import Host

from harness.virtual.packages import RUNTIME_PERMISSIONS
from harness.virtual.spec import luhn_ok


@pytest.fixture
def host() -> Host:
    return Host("reference")


@pytest.fixture
def rooted() -> Host:
    return Host("vendor-1.0")


def test_unknown_command_is_127_with_android_message(host: Host) -> None:
    out, err, code = host.run("frobnicate --now")
    assert (out, code) == ("", 127)
    assert err == "/system/bin/sh: frobnicate: inaccessible or not found\n"


def test_status_sequences_and_quoting(host: Host) -> None:
    out, _, code = host.run("false; echo X4EXIT:$?")
    assert (out, code) == ("X4EXIT:1\n", 0)
    out, _, _ = host.run("true && echo a || echo b; false && echo c || echo d")
    assert out == "a\nd\n"
    out, _, _ = host.run("""echo 'single $HOME' "double $HOME" a\\ b""")
    assert out == "single $HOME double / a b\n"
    out, _, code = host.run("exit 7")
    assert code == 7
    _, err, code = host.run("echo 'unterminated")
    assert code != 0 and "quote" in err


def test_getprop_formats(host: Host) -> None:
    out, _, _ = host.run("getprop ro.build.fingerprint")
    assert out == "google/panther/panther:14/AP2A.240605.024/11860263:user/release-keys\n"
    out, _, _ = host.run("getprop no.such.prop")
    assert out == "\n"
    full, _, _ = host.run("getprop")
    lines = full.splitlines()
    keys = [line.split("]: [", 1)[0] for line in lines]
    assert keys == sorted(keys)
    assert "[ro.build.version.sdk]: [34]" in lines and "[ro.secure]: [1]" in lines


def test_settings_round_trip_and_delete(host: Host) -> None:
    assert host.run("settings get global http_proxy")[0] == "null\n"
    assert host.run("settings put global http_proxy 127.0.0.1:8080") == ("", "", 0)
    assert host.state.http_proxy() == "127.0.0.1:8080"
    assert host.run("settings get global http_proxy")[0] == "127.0.0.1:8080\n"
    host.run("settings put global http_proxy :0")
    assert host.state.http_proxy() is None
    assert host.run("settings delete global http_proxy")[0] == "Deleted 1 rows\n"
    assert host.run("settings delete global http_proxy")[0] == "Deleted 0 rows\n"
    assert host.run("settings get secure android_id")[0] == "3dbe565e92bca58b\n"


def test_pm_list_packages_flags(host: Host) -> None:
    third = host.run("pm list packages -3")[0].splitlines()
    assert "package:org.example.notes" in third and "package:android" not in third
    system = host.run("pm list packages -s")[0]
    assert "package:android\n" in system and "org.example.notes" not in system
    line = next(x for x in host.run("pm list packages -f -U --show-versioncode")[0].splitlines()
                if x.endswith("uid:10151"))
    assert line.startswith("package:/data/app/~~") and "/base.apk=org.example.notes versionCode:42 uid:10151" in line


def test_pm_grant_rules(host: Host) -> None:
    _, err, code = host.run("pm grant org.example.weather android.permission.INTERNET")
    assert code == 255 and "is not a changeable permission type" in err
    _, err, code = host.run("pm grant org.example.weather android.permission.CAMERA")
    assert code == 255 and "has not requested permission" in err
    _, err, code = host.run("pm grant no.such.pkg android.permission.CAMERA")
    assert code == 255 and "Unknown package: no.such.pkg" in err
    assert host.run("pm grant org.example.weather android.permission.ACCESS_COARSE_LOCATION")[2] == 0
    dump = host.run("dumpsys package org.example.weather")[0]
    assert "android.permission.ACCESS_COARSE_LOCATION: granted=true" in dump
    host.run("pm revoke org.example.weather android.permission.ACCESS_COARSE_LOCATION")
    assert "android.permission.ACCESS_COARSE_LOCATION: granted=false" in host.run("dumpsys package org.example.weather")[0]
    assert "android.permission.ACCESS_COARSE_LOCATION" in RUNTIME_PERMISSIONS


def test_dumpsys_package_layout_per_sdk(host: Host, rooted: Host) -> None:
    a14 = host.run("dumpsys package org.example.notes")[0]
    assert "appId=10151" in a14 and "\n      firstInstallTime=" in a14 and "versionName=2.3.0" in a14
    a13 = rooted.run("dumpsys package com.vendor.weather")[0]
    assert "userId=" in a13 and "\n    firstInstallTime=" in a13
    assert host.run("pm path org.example.notes")[0].startswith("package:/data/app/~~")
    assert host.run("pm path no.such")[2] == 1


def test_iphonesubinfo_parcel_matches_reference_layout(host: Host) -> None:
    out = host.run("service call iphonesubinfo 1 s16 com.android.shell")[0]
    assert out == ("Result: Parcel(\n"
                   "  0x00000000: 00000000 0000000f 00350033 00340038 '........3.5.8.4.'\n"
                   "  0x00000010: 00360037 00310033 00300032 00370039 '7.6.3.1.2.0.9.7.'\n"
                   "  0x00000020: 00340033 00000038                   '3.4.8...        ')\n")
    iccid = host.run("service call iphonesubinfo 12 s16 com.android.shell")[0]
    digits = "".join(x.split("'")[1] for x in iccid.splitlines()[1:]).replace(".", "").strip()
    assert digits == host.state.identifiers["iccid"]
    assert "ffffffff" in host.run("service call iphonesubinfo 1")[0].splitlines()[1]


def test_am_start_monkey_force_stop_and_focus(host: Host) -> None:
    out, _, code = host.run("am start -n org.example.notes/.MainActivity")
    assert (out, code) == ("Starting: Intent { cmp=org.example.notes/.MainActivity }\n", 0)
    pid = host.run("pidof org.example.notes")[0].strip()
    assert pid.isdigit() and int(pid) == host.apps.pid_of("org.example.notes")
    assert "org.example.notes/org.example.notes.MainActivity}" in host.run("dumpsys window | grep mCurrentFocus")[0]
    out, err, code = host.run("am start -n org.example.notes/.Missing")
    assert code == 1 and "Error: Activity class {org.example.notes/org.example.notes.Missing} does not exist." in err
    host.run("am force-stop org.example.notes")
    assert host.run("pidof org.example.notes")[2] == 1
    out, _, code = host.run("monkey -p org.example.weather -c android.intent.category.LAUNCHER 1")
    assert code == 0 and out.startswith("Events injected: 1\n## Network stats: elapsed time=")
    _, err, code = host.run("monkey -p no.such.app 1")
    assert code == 252 and "No activities found to run" in err


def test_ps_formats(host: Host) -> None:
    host.run("am start -n org.example.notes/.MainActivity")
    lines = host.run("ps -A")[0].splitlines()
    assert lines[0] == "USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME"
    assert any(x.startswith("root             1     0") and x.endswith(" S init") for x in lines)
    assert any(x.startswith("u0_a151") and x.endswith("org.example.notes") for x in lines)
    short = host.run("ps -A -o PID,UID,NAME")[0].splitlines()
    assert short[0] == "  PID   UID NAME" and any(x.endswith(" 10151 org.example.notes") for x in short)


def test_files_modes_and_read_only_system(host: Host) -> None:
    out, _, _ = host.run("echo hello > /data/local/tmp/a.txt; cat /data/local/tmp/a.txt; stat -c '%a %U:%G %s' /data/local/tmp/a.txt")
    assert out == "hello\n644 shell:shell 6\n"
    _, err, code = host.run("echo x > /system/etc/hosts")
    assert code == 1 and "Read-only file system" in err
    _, err, code = host.run("mkdir /data/system/x")
    assert code == 1 and "Permission denied" in err
    out, _, _ = host.run("cp /data/local/tmp/a.txt /sdcard/b.txt && chmod 600 /sdcard/b.txt && ls -l /sdcard/b.txt")
    assert out.startswith("-rw------- 1 shell shell 6 ")
    assert host.run("test -e /nope")[2] == 1 and host.run("[ -d /sdcard ]")[2] == 0
    out, _, _ = host.run("ls /system/etc/security/cacerts | wc -l")
    assert out == "4\n"


def test_su_only_when_rooted(host: Host, rooted: Host) -> None:
    _, err, code = host.run("su -c id")
    assert code == 127 and "su: inaccessible or not found" in err
    out, _, code = rooted.run("su -c id")
    assert (out, code) == ("uid=0(root) gid=0(root) groups=0(root) context=u:r:magisk:s0\n", 0)
    assert rooted.run("su 0 whoami")[0] == "root\n"
    assert rooted.run("mount -t tmpfs tmpfs /system/etc/security/cacerts")[2] == 255


# The tmpfs overlay part of the published CA procedure (ca-install-procedures.md); the
# Android 14 procedure runs it first, then bind-mounts the result into the APEX store.
TMPFS_CA_STEPS = """\
mkdir -p /data/local/tmp/htk-ca-copy
chmod 700 /data/local/tmp/htk-ca-copy
rm -rf /data/local/tmp/htk-ca-copy/*
if [ -d "/apex/com.android.conscrypt/cacerts" ]; then
    cp /apex/com.android.conscrypt/cacerts/* /data/local/tmp/htk-ca-copy/
else
    cp /system/etc/security/cacerts/* /data/local/tmp/htk-ca-copy/
fi
mount -t tmpfs tmpfs /system/etc/security/cacerts
mv /data/local/tmp/htk-ca-copy/* /system/etc/security/cacerts/
mv /data/local/tmp/c8750f0d.0 /system/etc/security/cacerts/
chown root:root /system/etc/security/cacerts/*
chmod 644 /system/etc/security/cacerts/*
chcon u:object_r:system_file:s0 /system/etc/security/cacerts/
chcon u:object_r:system_file:s0 /system/etc/security/cacerts/*
echo 'System cacerts setup completed'
"""


def test_pre14_tmpfs_ca_procedure(rooted: Host) -> None:
    rooted.state.files.write("/data/local/tmp/c8750f0d.0", b"-----BEGIN CERTIFICATE-----\nX\n", 0o644)
    script = "set -e\n" + TMPFS_CA_STEPS
    rooted.state.files.write("/data/local/tmp/inject.sh", script.encode(), 0o444)
    out, err, code = rooted.run("su -c 'sh /data/local/tmp/inject.sh'")
    assert (out, err, code) == ("System cacerts setup completed\n", "", 0)
    names = rooted.run("ls /system/etc/security/cacerts")[0].split()
    assert "c8750f0d.0" in names and len(names) == 5
    assert "tmpfs on /system/etc/security/cacerts type tmpfs" in rooted.run("mount")[0]
    assert any(p.startswith(b"-----BEGIN CERTIFICATE-----\nX") for p in rooted.state.trusted_ca_pems())
    rooted.state.reboot()
    assert "c8750f0d.0" not in rooted.run("ls /system/etc/security/cacerts")[0]


def test_android14_apex_procedure_end_to_end() -> None:
    h = Host("rooted-a14")
    h.state.files.write("/data/local/tmp/c8750f0d.0", b"-----BEGIN CERTIFICATE-----\nMITM\n", 0o644)
    h.run("am start -n org.example.notes/.MainActivity")
    script = "set -e\n" + TMPFS_CA_STEPS + """if [ -d "/apex/com.android.conscrypt/cacerts" ]; then
    echo 'Injecting certificates into APEX cacerts'
    mount --bind /system/etc/security/cacerts /apex/com.android.conscrypt/cacerts
    ZYGOTE_PID=$(pidof zygote || true)
    ZYGOTE64_PID=$(pidof zygote64 || true)
    Z_PIDS="$ZYGOTE_PID $ZYGOTE64_PID"
    for Z_PID in $Z_PIDS; do
        if [ -n "$Z_PID" ]; then
            nsenter --mount=/proc/$Z_PID/ns/mnt -- \\
                /bin/mount --bind /system/etc/security/cacerts /apex/com.android.conscrypt/cacerts
        fi
    done
    echo 'Zygote APEX certificates remounted'
    APP_PIDS=$(
        echo $Z_PIDS | \\
        xargs -n1 ps -o 'PID' -P | \\
        grep -v PID
    )
    for PID in $APP_PIDS; do
        nsenter --mount=/proc/$PID/ns/mnt -- \\
            /bin/mount --bind /system/etc/security/cacerts /apex/com.android.conscrypt/cacerts &
    done
    wait
    echo "APEX certificates remounted for $(echo $APP_PIDS | wc -w) apps"
fi
rm -r /data/local/tmp/htk-ca-copy
echo "System cert successfully injected"
"""
    h.state.files.write("/data/local/tmp/htk.sh", script.encode(), 0o444)
    out, err, code = h.run("su -c 'sh /data/local/tmp/htk.sh'")
    assert code == 0, err
    assert "APEX certificates remounted for 4 apps" in out and out.endswith("System cert successfully injected\n")
    apex = h.run("ls /apex/com.android.conscrypt/cacerts")[0].split()
    assert "c8750f0d.0" in apex and len(apex) == 5
    assert b"-----BEGIN CERTIFICATE-----\nMITM\n" in h.state.trusted_ca_pems()
    h.state.reboot()
    assert "c8750f0d.0" not in h.run("ls /apex/com.android.conscrypt/cacerts")[0]


def test_content_contacts_and_sms(host: Host) -> None:
    host.run("content insert --uri content://com.android.contacts/raw_contacts --bind account_type:s: --bind account_name:s:")
    rid = host.state.tables["raw_contacts"][-1]["_id"]
    host.run(f"content insert --uri content://com.android.contacts/data --bind raw_contact_id:i:{rid} "
             "--bind mimetype:s:vnd.android.cursor.item/name --bind data1:s:'Canary Person'")
    host.run(f"content insert --uri content://com.android.contacts/data --bind raw_contact_id:i:{rid} "
             "--bind mimetype:s:vnd.android.cursor.item/phone_v2 --bind data1:s:+15550009999")
    assert {"id": rid, "name": "Canary Person", "phone": "+15550009999", "email": ""} in host.state.contacts
    out = host.run("content query --uri content://contacts/phones --projection number --where \"display_name='Canary Person'\"")[0]
    assert out == "Row: 0 number=+15550009999\n"
    host.run("content insert --uri content://sms --bind address:s:+1555 --bind body:s:'a, b' --bind type:i:1")
    assert "body=a, b" in host.run("content query --uri content://sms --where \"address='+1555'\"")[0]
    host.run("content delete --uri content://sms --where \"address='+1555'\"")
    assert host.run("content query --uri content://sms --where \"address='+1555'\"")[0] == "No result found.\n"
    _, err, code = host.run("content query --uri content://nope/x")
    assert code == 1 and "Unknown URL" in err


def test_clipboard_location_and_appops(host: Host) -> None:
    out = host.run("am broadcast -a clipper.set -e text 'canary 42'")[0]
    assert out == ("Broadcasting: Intent { act=clipper.set flg=0x400000 (has extras) }\n"
                   'Broadcast completed: result=-1, data="Text is copied into clipboard."\n')
    assert host.state.clipboard == "canary 42"
    _, err, code = host.run("cmd location providers add-test-provider gps")
    assert code == 255 and "MOCK_LOCATION" in err
    host.run("appops set com.android.shell android:mock_location allow")
    for cmd in ("cmd location providers add-test-provider gps",
                "cmd location providers set-test-provider-enabled gps true",
                "cmd location providers set-test-provider-location gps --location 48.8584,2.2945"):
        assert host.run(cmd)[2] == 0, cmd
    assert host.state.location is not None and host.state.location["lat"] == pytest.approx(48.8584)
    host.run("cmd location providers remove-test-provider gps")
    assert host.state.location is None


def test_frida_server_only_when_pushed_and_root(rooted: Host) -> None:
    _, err, code = rooted.run("/data/local/tmp/frida-server --version")
    assert code == 127 and "inaccessible or not found" in err
    rooted.state.files.write("/data/local/tmp/frida-server", server_bytes("arm64-v8a", "17.26.2"), 0o644)
    assert rooted.run("/data/local/tmp/frida-server --version")[2] == 126
    rooted.run("chmod 755 /data/local/tmp/frida-server")
    assert rooted.run("/data/local/tmp/frida-server --version")[0] == "17.26.2\n"
    assert rooted.run("pidof frida-server")[2] == 1
    assert rooted.run("su -c '/data/local/tmp/frida-server -D'")[2] == 0
    assert rooted.run("pidof frida-server")[0].strip().isdigit()
    rooted.run("su -c 'killall frida-server'")
    assert rooted.run("pidof frida-server")[2] == 1


def test_reboot_keeps_settings_and_files(host: Host) -> None:
    host.run("settings put global http_proxy 127.0.0.1:8080; echo x > /sdcard/keep")
    host.run("reboot")
    assert host.reboots == 1
    host.state.reboot()
    assert host.run("settings get global http_proxy")[0] == "127.0.0.1:8080\n"
    assert host.run("cat /sdcard/keep")[0] == "x\n"


def test_builtin_identifiers_are_plausible() -> None:
    for name in ("reference", "vendor-1.0", "vendor-1.1", "rooted-a14"):
        ids = Host(name).state.identifiers
        assert luhn_ok(ids["imei"]) and ids["iccid"].startswith("89") and len(ids["android_id"]) == 16
    assert Host("vendor-1.0").state.identifiers["imsi"][:3] in ("404", "405")


def test_random_command_lines_never_raise(host: Host) -> None:
    import random

    rng = random.Random(1234)
    tokens = ["echo", "ls", "-l", "pm", "list", "packages", "grant", "am", "start", "-n", "a/.B", "settings",
              "put", "get", "global", "x", ";", "&&", "||", "|", "'", '"', "$(", ")", "`", "$?", "${", "}",
              ">", ">>", "2>&1", "<", "if", "then", "fi", "for", "do", "done", "while", "[", "]", "-e", "/",
              "/sdcard", "*", "content", "--uri", "content://sms", "--bind", "a:i:x", "service", "call",
              "iphonesubinfo", "99", "monkey", "-p", "wm", "size", "0x0", "chmod", "u+q", "mount", "cp", "mv",
              "stat", "-c", "%Q", "printf", "%d", "abc", "head", "-n", "x", "xargs", "cut", "-f", "tr", "\\", "\n"]
    for _ in range(600):
        line = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 12)))
        out, err, code = host.run(line)
        assert isinstance(code, int) and 0 <= code <= 255, line
    assert host.run("(" * 3000)[2] != 0


def test_private_data_needs_root(rooted: Host) -> None:
    prefs = "/data/data/com.google.android.gms/shared_prefs/adid_settings.xml"
    _, err, code = rooted.run(f"cat {prefs}")
    assert code == 1 and "Permission denied" in err
    assert rooted.run("ls /data/misc/user/0/cacerts-added")[2] == 1
    out, _, code = rooted.run(f"su -c 'cat {prefs}'")
    assert code == 0 and rooted.state.identifiers["advertising_id"] in out
    assert rooted.run("cat /sys/class/net/wlan0/address")[0] == rooted.state.identifiers["wifi_mac"] + "\n"
    assert "link/ether " + rooted.state.identifiers["wifi_mac"] in rooted.run("ip link show wlan0")[0]


def test_monkey_throttle_takes_time(host: Host) -> None:
    import time

    t = time.monotonic()
    out, _, code = host.run("monkey -p org.example.notes -s 7 --throttle 100 -v 3")
    assert code == 0 and time.monotonic() - t >= 0.3
    assert ":Monkey: seed=7 count=3" in out and "Events injected: 3" in out


def test_raw_contact_delete_is_soft_unless_sync_adapter(host: Host) -> None:
    rid = host.state.add_contact("Temp Person", "+15550001111")
    host.run(f"content delete --uri content://com.android.contacts/raw_contacts --where _id={rid}")
    assert all(c["id"] != rid for c in host.state.contacts)
    assert "deleted=1" in host.run(f"content query --uri content://com.android.contacts/raw_contacts --where _id={rid}")[0]
    host.run(f"content delete --uri 'content://com.android.contacts/raw_contacts?caller_is_syncadapter=true' --where _id={rid}")
    assert host.run(f"content query --uri content://com.android.contacts/raw_contacts --where _id={rid}")[0] == "No result found.\n"


def _typed(host: Host) -> list[str]:
    """Texts `input text` typed, as the handset logs them (tag VirtualInput)."""
    out, _, _ = host.run("logcat -d -v brief")
    return [line.split("): ", 1)[1] for line in out.splitlines() if line.startswith("I/VirtualInput")]


def test_input_text_decodes_only_percent_s_like_android(host: Host) -> None:
    """Android's `input text` turns each %s into a space and types everything else as it
    arrives after the shell's unquoting: backslashes stay, further words are ignored."""
    host.run("input text 'user@example.com'")
    host.run("input text a%sb%%s%")
    host.run(r"input text 'user\@example\.com'")  # what adbutils-style escaping types
    host.run("input text first second")
    host.run("input text \"it's\" ; input text '$HOME;reboot'")
    assert _typed(host) == ["user@example.com", "a b% %", r"user\@example\.com", "first", "it's",
                            "$HOME;reboot"]
