"""Real Frida against real JVM processes (the test app in fixtures/java)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.frida_attach import attach
from support.jvm_app import stop_process

from harness.capture.folder import iter_jsonl
from harness.instrument import Instrumentation

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
        info = attach(inst, "com.vendor.analytics", app.pid)
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


def test_a_hooked_call_that_throws_is_recorded_and_the_app_gets_its_exception(
    tmp_path: Path, jvm_app: Callable[..., Any]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connect() is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app = jvm_app("read", IMEI, "127.0.0.1", str(closed))
    lines: list[str] = []
    assert app.stdout is not None
    threading.Thread(target=lambda: lines.extend(iter(app.stdout.readline, "")), daemon=True).start()
    with Instrumentation("local", SERIAL, tmp_path, ["network"]) as inst:
        attach(inst, "com.vendor.analytics", app.pid)

        def threw() -> list[dict[str, Any]]:
            inst.flush()
            return [r for r in _records(inst.hooks_path)
                    if r["api"] == "java.net.Socket.connect" and "threw" in r.get("note", "")]

        assert _wait_for(lambda: bool(threw()))
        seen = len(lines)
        assert _wait_for(lambda: len(lines) > seen + 2)  # calls made with the hook in place
    record = threw()[0]
    assert "ConnectException" in record["note"] and record["port"] == closed
    # the app got the original exception back (had the hook swallowed it, the next call,
    # getOutputStream on an unconnected socket, would fail with "Socket is not connected")
    assert all("java.net.ConnectException" in line for line in lines[seen:] if "send failed" in line), lines[seen:]
    assert any("send failed" in line for line in lines[seen:])


def test_java_stacks_and_threads_are_the_same_through_jvmti_and_jni(
    tmp_path: Path, jvm_app: Callable[..., Any]
) -> None:
    """The JVMTI call-site cache (java_sites.c) records exactly what Thread.getStackTrace gives."""
    from harness.instrument import AgentOptions

    app = jvm_app("read", IMEI)
    seen: dict[str, set[tuple[Any, ...]]] = {}
    for mode, fast in (("jvmti", True), ("jni", False)):
        capture = tmp_path / mode
        capture.mkdir()
        with Instrumentation("local", SERIAL, capture, ["sensitive"],
                             options=AgentOptions(fast_java=fast)) as inst:
            info = attach(inst, "com.vendor.analytics", app.pid)
            assert info.installed["javaStacks"] == mode
            assert _wait_for(lambda: inst.flush() and sum(
                r["type"] == "hook:event" for r in _records(inst.hooks_path)) >= 6)
        seen[mode] = {(r["api"], r["category"], r["value"], r["thread"], tuple(r["stack"]))
                      for r in _records(capture / "hooks.jsonl") if r["type"] == "hook:event"}
    assert seen["jvmti"] == seen["jni"]
    assert {api for api, *_ in seen["jvmti"]} == {
        "android.telephony.TelephonyManager.getImei", "android.location.LocationManager.getLastKnownLocation"}


@pytest.mark.parametrize("mode", ["jvmti", "jni"])
def test_concurrent_threads_keep_their_own_names_and_stacks(
    tmp_path: Path, jvm_app: Callable[..., Any], mode: str
) -> None:
    """Three threads in the hooks at once, one renaming itself: every event carries the name
    its thread had and the stack of its own call site (no mix-up in the shared caches)."""
    from harness.instrument import AgentOptions

    app = jvm_app("threads", IMEI)
    with Instrumentation("local", SERIAL, tmp_path, ["sensitive"],
                         options=AgentOptions(fast_java=mode == "jvmti")) as inst:
        info = attach(inst, "com.vendor.analytics", app.pid)
        assert info.installed["javaStacks"] == mode
        assert _wait_for(lambda: inst.flush() and len({r.get("thread") for r in _records(
            inst.hooks_path) if r["type"] == "hook:event"}) >= 4, 30)
    reads = [r for r in _records(tmp_path / "hooks.jsonl") if r["type"] == "hook:event"]
    expected = {
        "worker-0": ("android.telephony.TelephonyManager.getImei", "Tracker.workerRead("),
        "worker-1": ("android.telephony.TelephonyManager.getSubscriberId", "Tracker.otherRead("),
        "worker-2": ("android.telephony.TelephonyManager.getImei", "Tracker.workerRead("),
        "renamed-2": ("android.telephony.TelephonyManager.getImei", "Tracker.workerRead("),
    }
    assert {r["thread"] for r in reads} == set(expected)
    for read in reads:
        api, caller = expected[read["thread"]]
        assert read["api"] == api and read["stack"][0].startswith(api + "(")
        assert read["stack"][1].startswith("com.vendor.analytics." + caller), read
        assert read["value"] == (IMEI if api.endswith("getImei") else "310260000000000")


def test_hot_method_losses_are_counted_not_silent(tmp_path: Path, jvm_app: Callable[..., Any]) -> None:
    app = jvm_app("hot", IMEI)
    assert app.stdout is not None and app.stdout.readline().startswith("calls ")
    inst = Instrumentation("local", SERIAL, tmp_path, ["sensitive"])
    attach(inst, "com.vendor.hot", app.pid)
    assert _wait_for(lambda: inst.agent_stats("com.vendor.hot")["emitted"] > 1000, 30)
    stats = inst.close()
    final = inst.agent_stats("com.vendor.hot")
    records = _records(tmp_path / "hooks.jsonl")
    events = sum(1 for r in records if r["type"] != "hook:dropped")  # all came from the agent
    dropped = sum(r["count"] for r in records if r["type"] == "hook:dropped")
    assert final is not None and final["emitted"] > 1000
    # every event the agent emitted is in hooks.jsonl or counted as dropped
    assert events + dropped == final["emitted"]
    assert stats.events == events and stats.dropped == dropped
    assert sum(1 for r in records if r["type"] == "hook:event") > 900


def test_native_connects_take_the_fast_path_and_every_loss_is_counted(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from harness.instrument import AgentOptions

    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed to build the native target")
    binary = tmp_path / "hot_connect"
    source = Path(__file__).parent / "fixtures" / "native" / "hot_connect.c"
    subprocess.run([gcc, "-O2", "-o", str(binary), str(source)], check=True, capture_output=True)
    process = subprocess.Popen([str(binary)], stdout=subprocess.DEVNULL)
    try:
        inst = Instrumentation("local", SERIAL, tmp_path, ["network"],
                               options=AgentOptions(java_bridge=False))
        info = attach(inst, "bench.native", process.pid)
        assert info.installed["native"]["network"]["libc.connect"] == "cmodule"
        assert _wait_for(lambda: inst.agent_stats("bench.native")["emitted"] > 5000, 20)
        stats = inst.close()
    finally:
        stop_process(process)
    records = _records(tmp_path / "hooks.jsonl")
    connects = [r for r in records if r["type"] == "net:connect"]
    assert len(connects) > 1000
    assert (connects[0]["ip"], connects[0]["port"], connects[0]["thread"]) == ("127.0.0.1", 9, "hot_connect")
    assert connects[0]["pid"] == process.pid and connects[0]["api"] == "libc.connect"
    dropped = sum(r["count"] for r in records if r["type"] == "hook:dropped")
    final = inst.agent_stats("bench.native")
    assert final is not None
    assert sum(1 for r in records if r["type"] != "hook:dropped") + dropped == final["emitted"]
    assert stats.dropped == dropped


def test_spawned_app_is_hooked_from_its_first_read(tmp_path: Path, tracker_classes: Path) -> None:
    import shutil

    java = shutil.which("java")
    assert java
    argv = [java, "-Xmx64m", "-XX:+UseSerialGC", "-cp", str(tracker_classes),
            "com.vendor.analytics.Tracker", "read", IMEI]
    inst = Instrumentation("local", SERIAL, tmp_path, ["sensitive"])
    pid = None
    try:
        info = inst.spawn("com.vendor.spawned", argv)
        pid = info.pid
        assert info.spawned and info.installed.get("pending") is True  # no JVM yet at spawn time
        assert _wait_for(lambda: any(r["type"] == "agent:ready" for r in _records(inst.hooks_path)))
        assert _wait_for(lambda: inst.flush() and any(
            r.get("category") == "imei" for r in _records(inst.hooks_path)))
    finally:
        inst.close()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    records = _records(tmp_path / "hooks.jsonl")
    reads = [r for r in records if r.get("category") == "imei"]
    assert reads[0]["pid"] == pid and reads[0]["value"] == IMEI
    assert reads[0]["stack"][1].startswith("com.vendor.analytics.Tracker.main(")
