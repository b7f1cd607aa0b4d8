"""Lifecycle of the virtual apps: boot, timers, stop, reboot, handset death; no stray JVM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.apps_kit import pid_alive, proxy_to

from harness.virtual.apps.behaviours import BehaviourError
from harness.virtual.apps.runner import wait_for

pytestmark = pytest.mark.e2e

TELEMETRY = {"autostart": True, "sdk": "com.vendor.telemetry.Reporter", "sends": [
    {"id": "hb", "url": "http://telemetry.vendor-cloud.example/hb", "when": ["boot"], "every": 1,
     "fields": [{"name": "sn", "read": "serial"}]}]}


def test_boot_starts_system_services_that_phone_home_on_boot_and_on_a_timer(apps, plain_proxy):
    state, runner = apps([{"name": "com.vendor.telemetry", "system": True, "behaviours": TELEMETRY},
                          {"name": "com.example.user"}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.boot()
    assert set(runner.running()) == {"com.vendor.telemetry"}
    reqs = proxy.wait(3)
    assert all(r.request_line == "POST http://telemetry.vendor-cloud.example/hb HTTP/1.1" for r in reqs)
    assert b'"sn":"VX1SERIAL01"' in reqs[0].body


def test_stop_and_reboot_leave_no_stray_jvm(apps):
    state, runner = apps([{"name": "com.vendor.telemetry", "system": True, "behaviours": TELEMETRY},
                          {"name": "com.example.a"}, {"name": "com.example.b"}])
    runner.boot()
    a, b = runner.start("com.example.a"), runner.start("com.example.b")
    boot_pid = runner.pid_of("com.vendor.telemetry")
    assert boot_pid and all(pid_alive(p) for p in (a, b, boot_pid))
    runner.stop("com.example.a")
    assert not pid_alive(a) and pid_alive(b)
    runner.stop("com.example.a")  # not running: no error
    # Reboot: everything ends, then boot brings back only the system service, as a new process.
    runner.shutdown()
    assert not any(pid_alive(p) for p in (a, b, boot_pid))
    assert runner.running() == {}
    runner.boot()
    new_pid = runner.pid_of("com.vendor.telemetry")
    assert new_pid and new_pid != boot_pid and pid_alive(new_pid)
    runner.shutdown()
    assert not pid_alive(new_pid)


def test_an_app_that_exits_is_reaped_and_can_start_again(apps):
    state, runner = apps([{"name": "com.example.crashy"}])
    pid = runner.start("com.example.crashy")
    assert wait_for(lambda: Path(f"/proc/{pid}/comm").read_text().strip() == "com.example.crashy"[-15:], 10)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: runner.pid_of("com.example.crashy") is None, 10)
    assert not pid_alive(pid)
    assert runner.start("com.example.crashy") != pid


def test_bad_behaviours_or_unknown_package_start_nothing(apps):
    bad = {"sends": [{"id": "x", "url": "ftp://nowhere", "fields": []}]}
    state, runner = apps([{"name": "com.example.bad", "behaviours": bad}])
    with pytest.raises(BehaviourError, match=r"com.example.bad: behaviours.sends.0.url"):
        runner.start("com.example.bad")
    with pytest.raises(LookupError):
        runner.start("com.example.missing")
    assert runner.running() == {}


HANDSET_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])  # tests/, for tests/support
    from support.apps_kit import make_state
    from harness.virtual.apps.runner import AppRunner
    state = make_state([{"name": "com.example.orphan"}])
    runner = AppRunner(state, None)
    print(runner.start("com.example.orphan"), flush=True)
    time.sleep(600)
""")


def test_apps_end_when_their_handset_process_is_killed(tmp_path):
    handset = subprocess.Popen([sys.executable, "-c", HANDSET_SCRIPT, str(Path(__file__).parents[1])],
                               stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        pid = int(handset.stdout.readline())
        assert wait_for(lambda: Path(f"/proc/{pid}/comm").read_text().strip() == "com.example.orphan"[-15:], 20)
    finally:
        handset.kill()  # like kill -9 of the handset: no chance to stop its apps
        handset.wait()
    # The JVM was reparented; it sees its control channel close and halts by itself.
    assert wait_for(lambda: not pid_alive(pid), 15), f"stray JVM {pid}"
