"""Real Frida against real JVM processes (the test app in fixtures/java)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.capture import iter_jsonl
from harness.instrument import Instrumentation, SessionState

pytestmark = pytest.mark.e2e

IMEI = "356938035643809"
SERIAL = "virtual:test"


def _records(path: Path) -> list[dict[str, Any]]:
    return list(iter_jsonl(path))


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class Collector:
    """A loopback TCP server that keeps what the app sends."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(4096))
                except OSError:
                    continue

    def close(self) -> None:
        self.server.close()


def test_imei_read_is_traced_with_package_pid_api_and_calling_class(
    tmp_path: Path, jvm_app: Callable[..., Any]
) -> None:
    collector = Collector()
    app = jvm_app("read", IMEI, "localhost", str(collector.port))
    with Instrumentation("local", SERIAL, tmp_path, ["sensitive", "network"]) as inst:
        info = inst.attach("com.vendor.analytics", app.pid)
        assert info.installed["java"]["sensitive"]["android.telephony.TelephonyManager.getImei"] == 1

        def complete() -> bool:
            inst.flush()
            seen = {(r["type"], r["api"]) for r in _records(inst.hooks_path)}
            return {("hook:event", "android.telephony.TelephonyManager.getImei"),
                    ("net:resolve", "libc.getaddrinfo"), ("net:connect", "libc.connect"),
                    ("net:connect", "java.net.Socket.connect")} <= seen

        assert _wait_for(complete)
    stats = inst.stats
    records = _records(tmp_path / "hooks.jsonl")
    collector.close()

    assert any(IMEI.encode() in body for body in collector.received)  # the app does send it
    reads = [r for r in records if r["type"] == "hook:event" and r["category"] == "imei"]
    assert reads, records[:5]
    read = reads[0]
    assert read["package"] == "com.vendor.analytics" and read["pid"] == app.pid
    assert read["device"] == SERIAL
    assert read["api"] == "android.telephony.TelephonyManager.getImei"
    assert read["value"] == IMEI
    assert read["thread"] == "main"
    assert read["stack"][0].startswith("android.telephony.TelephonyManager.getImei(")
    assert read["stack"][1].startswith("com.vendor.analytics.Tracker.main(Tracker.java:")

    locations = [r for r in records if r.get("category") == "location"]
    assert locations and locations[0]["value"] == "48.8584,2.2945"

    java_connects = [r for r in records if r["type"] == "net:connect" and r["api"] == "java.net.Socket.connect"]
    assert java_connects and java_connects[0]["host"] == "localhost"
    assert java_connects[0]["port"] == collector.port
    assert any(f.startswith("com.vendor.analytics.Tracker.send(") for f in java_connects[0]["stack"])
    native = [r for r in records if r["type"] == "net:connect" and r["api"] == "libc.connect"
              and r["port"] == collector.port]
    assert native and native[0]["ip"] in ("127.0.0.1", "::1")
    assert any(f.startswith("com.vendor.analytics.Tracker.send(") for f in native[0]["stack"])
    resolves = [r for r in records if r["type"] == "net:resolve" and r["host"] == "localhost"]
    assert resolves and ("127.0.0.1" in resolves[0]["ips"] or "::1" in resolves[0]["ips"])

    missing = {r["api"] for r in records if r["type"] == "hook:unavailable"}
    assert "android.location.LocationManager.getLastKnownLocation" not in missing
    assert "android.bluetooth.BluetoothAdapter.getAddress" in missing  # reported, not fatal
    assert len([r for r in records if r["api"] == "android.bluetooth.BluetoothAdapter.getAddress"]) == 1
    assert stats.dropped == 0 and stats.sessions == {"com.vendor.analytics": "detached"}


def test_killed_app_is_recorded_and_the_other_app_goes_on(
    tmp_path: Path, jvm_app: Callable[..., Any]
) -> None:
    victim = jvm_app("read", "111111111111111")
    survivor = jvm_app("read", "222222222222222")
    with Instrumentation("local", SERIAL, tmp_path, ["sensitive"]) as inst:
        inst.attach("com.vendor.victim", victim.pid)
        inst.attach("com.vendor.survivor", survivor.pid)
        victim.kill()
        victim.wait(10)
        killed_at = time.time()
        assert _wait_for(lambda: inst.state("com.vendor.victim") is SessionState.DIED)
        time.sleep(0.5)
        inst.flush()
        assert inst.state("com.vendor.survivor") is SessionState.ATTACHED
    records = _records(tmp_path / "hooks.jsonl")
    died = [r for r in records if r["type"] == "app:died"]
    assert len(died) == 1
    assert died[0]["package"] == "com.vendor.victim" and died[0]["pid"] == victim.pid
    assert died[0]["reason"] == "process-terminated"
    later = [r for r in records if r["package"] == "com.vendor.survivor"
             and r["category"] == "imei" and r["ts"] > killed_at + 0.1]
    assert later and later[-1]["value"] == "222222222222222"
    assert not [r for r in records if r["type"] == "app:died" and r["package"] == "com.vendor.survivor"]


def test_hot_method_losses_are_counted_not_silent(tmp_path: Path, jvm_app: Callable[..., Any]) -> None:
    app = jvm_app("hot", IMEI)
    assert app.stdout is not None and app.stdout.readline().startswith("calls ")
    inst = Instrumentation("local", SERIAL, tmp_path, ["sensitive"])
    inst.attach("com.vendor.hot", app.pid)
    time.sleep(1.5)
    session = inst._sessions["com.vendor.hot"]
    stats = inst.close()
    final = session.final_stats
    records = _records(tmp_path / "hooks.jsonl")
    events = sum(1 for r in records if r["type"] != "hook:dropped")  # all came from the agent
    dropped = sum(r["count"] for r in records if r["type"] == "hook:dropped")
    assert final is not None and final["emitted"] > 1000
    # every event the agent emitted is in hooks.jsonl or counted as dropped
    assert events + dropped == final["emitted"]
    assert stats.events == events and stats.dropped == dropped
    assert sum(1 for r in records if r["type"] == "hook:event") > 1000
