"""Acceptance through the real adb server: launching apps, pidof/ps, the proxy setting with
adb reverse, force-stop and reboot, on the built-in vendor handset."""

from __future__ import annotations

import socket
import time

import pytest
from support.apps_kit import pid_alive

from harness.virtual.apps.runner import wait_for

pytestmark = pytest.mark.e2e


def _pids(handset, package: str) -> list[int]:
    out, code = handset.shell(f"pidof {package}")
    return [int(p) for p in out.split()] if code == 0 else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launch_through_adb_and_requests_reach_a_reversed_proxy(virtual_handset, plain_proxy):
    handset = virtual_handset("vendor-1.0")
    proxy = plain_proxy("127.0.0.1")  # on the host, reached only through adb reverse
    device_port = _free_port()
    handset.adb.run("-s", handset.serial, "reverse", f"tcp:{device_port}", f"tcp:{proxy.port}", check=True)
    _, code = handset.shell(f"settings put global http_proxy 127.0.0.1:{device_port}")
    assert code == 0

    out, code = handset.shell("am start -n com.vendor.weather/.MainActivity")
    assert code == 0, out
    assert wait_for(lambda: _pids(handset, "com.vendor.weather"), 20)
    [pid] = _pids(handset, "com.vendor.weather")
    # A real process: its own /proc entry, named for the package.
    assert open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0] == b"com.vendor.weather"
    ps, _ = handset.shell("ps -A")
    assert any(line.split()[1] == str(pid) and line.endswith("com.vendor.weather") for line in ps.splitlines()[1:])

    # The app's https requests arrive at the proxy as CONNECTs to the zone's hostnames.
    want = {"CONNECT analytics.vendor-cloud.example:443 HTTP/1.1", "CONNECT api.weather.example:443 HTTP/1.1"}
    assert wait_for(lambda: want <= {r.request_line for r in proxy.requests}, 30), proxy.requests

    # The app's own log lines (android.util.Log) show in logcat with its PID.
    logcat, _ = handset.shell("logcat -d")
    assert f"Start proc {pid}:com.vendor.weather for launch" in logcat

    handset.shell("am force-stop com.vendor.weather")
    assert not _pids(handset, "com.vendor.weather")
    assert wait_for(lambda: not pid_alive(pid), 10)


def test_reboot_restarts_system_services_and_leaves_no_stray_jvm(virtual_handset):
    handset = virtual_handset("vendor-1.0")
    assert wait_for(lambda: _pids(handset, "com.vendor.telemetry") and _pids(handset, "com.vendor.update"), 20)
    before = {p: _pids(handset, p)[0] for p in ("com.vendor.telemetry", "com.vendor.update")}
    handset.shell("monkey -p com.vendor.bank -c android.intent.category.LAUNCHER 1")
    assert wait_for(lambda: _pids(handset, "com.vendor.bank"), 20)
    bank = _pids(handset, "com.vendor.bank")[0]
    handset.adb.run("-s", handset.serial, "reboot", timeout=30)

    def cli_pidof(package: str) -> list[int]:
        out = handset.adb.run("-s", handset.serial, "shell", f"pidof {package}", timeout=10).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    deadline = time.monotonic() + 60
    after: list[int] = []
    while time.monotonic() < deadline and not after:
        time.sleep(0.5)
        state = handset.adb.run("-s", handset.serial, "get-state", timeout=10).stdout.strip()
        if state != "device":  # the reboot dropped the transport: connect again, as a technician would
            handset.adb.run("disconnect", handset.serial, timeout=10)
            handset.adb.run("connect", handset.serial, timeout=10)
            continue
        after = cli_pidof("com.vendor.telemetry")
    assert after and after[0] not in before.values()
    assert not any(pid_alive(p) for p in (*before.values(), bank))
    assert not cli_pidof("com.vendor.bank")  # user apps do not come back by themselves


@pytest.mark.parametrize(("name", "apps"), [
    ("rooted-a15", {"com.example.okbank/.LoginActivity": "https://api.bank.example/v1/session",
                    "com.example.cronetvideo/.PlayerActivity": "https://news.portal.example/v1/video/manifest"}),
    ("rooted-a16", {"com.example.ctbank/.LoginActivity": "https://api.bank.example/v2/session",
                    "com.example.fluttershop/.MainActivity": "https://news.portal.example/v1/catalog",
                    "com.example.portal/.WebActivity": "https://time.portal.example/v1/portal",
                    "com.example.payverify/.PayActivity": "https://api.bank.example/v1/pay/session"}),
])
def test_the_trust_check_apps_of_the_new_handsets_reach_their_servers(virtual_handset, name, apps):
    # Without a proxy every shape (OkHttp pins, Cronet, CT on SDK 36, Flutter, WebView, a
    # pinning HostnameVerifier) accepts the virtual internet's certificates.
    handset = virtual_handset(name)
    for component in apps:
        out, code = handset.shell(f"am start -n {component}")
        assert code == 0, out

    def answered() -> set[str]:
        logcat, _ = handset.shell("logcat -d")
        lines = [line for line in logcat.splitlines() if line.endswith(" -> 200")]
        return {url for url in apps.values() if any(f" {url} " in line or f" {url}?" in line for line in lines)}

    assert wait_for(lambda: answered() == set(apps.values()), 40), handset.shell("logcat -d")[0][-1500:]
