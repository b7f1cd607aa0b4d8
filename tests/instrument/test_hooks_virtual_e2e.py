"""Acceptance on the virtual handset's apps: real JVMs started through adb, real Frida,
the harness's own proxy (mitmproxy, contained mode) for the pinning bypass."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.frida_attach import attach

from harness.capture.folder import FLOWS_JSONL, iter_jsonl
from harness.instrument import Instrumentation, SessionState

pytestmark = pytest.mark.e2e

VENDOR_IMEI = "867432055814427"  # harness/virtual/handsets/vendor-1.0.yaml


def _wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    return predicate()


def _pidof(handset: Any, package: str) -> int | None:
    out, code = handset.shell(f"pidof {package}")
    return int(out.split()[0]) if code == 0 and out.strip() else None


def _launch(handset: Any, package: str, activity: str) -> int:
    out, code = handset.shell(f"am start -n {package}/{activity}")
    assert code == 0, out
    pid = _wait_for(lambda: _pidof(handset, package), 30)
    assert pid, f"{package} did not start"
    return pid


def _events(inst: Instrumentation, **match: Any) -> list[dict[str, Any]]:
    inst.flush()
    return [r for r in iter_jsonl(inst.hooks_path) if all(r.get(k) == v for k, v in match.items())]


def test_vendor_imei_read_is_traced_and_a_killed_app_is_recorded(virtual_handset, tmp_path: Path) -> None:
    handset = virtual_handset("vendor-1.0")
    weather = _launch(handset, "com.vendor.weather", ".MainActivity")
    telemetry = _wait_for(lambda: _pidof(handset, "com.vendor.telemetry"), 30)  # a boot service
    assert telemetry
    with Instrumentation("local", handset.serial, tmp_path, ["sensitive", "network"]) as inst:
        attach(inst, "com.vendor.weather", weather)
        attach(inst, "com.vendor.telemetry", telemetry)
        # the analytics SDK inside the weather app reads the IMEI every 10 s and sends its SHA-256
        reads = _wait_for(lambda: _events(inst, package="com.vendor.weather", category="imei"), 25)
        assert reads, "no IMEI read traced"
        read = reads[0]
        assert read["type"] == "hook:event" and read["value"] == VENDOR_IMEI
        assert read["pid"] == weather and read["device"] == handset.serial
        assert read["api"].startswith("android.telephony.TelephonyManager.get")
        assert any(frame.startswith("com.vendor.analytics.Tracker.") for frame in read["stack"]), read["stack"]
        # the same send reads android_id (a static Settings.Secure call) and the advertising id
        # (they may come in the agent's next batch)
        def read_values() -> dict[str, Any]:
            return {e["category"]: e["value"] for e in _events(inst, package="com.vendor.weather", type="hook:event")}

        _wait_for(lambda: {"android_id", "advertising_id"} <= read_values().keys(), 15)
        values = read_values()
        assert values.get("android_id") == "9f2c41a7d3e8b056", values
        assert values.get("advertising_id") == "2b7e1d6c-3f0a-4c58-9e4b-1a2d3c4e5f60", values

        # the app is killed mid-run: recorded, and the other app's hooks go on
        out, code = handset.shell("am force-stop com.vendor.weather")
        assert code == 0, out
        killed_at = time.time()
        assert _wait_for(lambda: inst.state("com.vendor.weather") is SessionState.DIED, 20)
        died = _events(inst, type="app:died")
        assert [(d["package"], d["pid"]) for d in died] == [("com.vendor.weather", weather)]
        later = _wait_for(lambda: [e for e in _events(inst, package="com.vendor.telemetry", category="imei")
                                   if e["ts"] > killed_at], 25)
        assert later and later[0]["value"] == VENDOR_IMEI
        assert inst.state("com.vendor.telemetry") is SessionState.ATTACHED
    assert inst.stats.dropped == 0


# --- pinning: the harness proxy in contained mode in front of the virtual internet -------

LOOPBACK = "127.77.231.1"  # this test's handset loopback (what the app calls 127.0.0.1)
BANK = "com.vendor.bank"
BANK_HOST = "api.bank.example"


@pytest.fixture
def pinned_bank(tmp_path: Path) -> Any:
    from harness.config.lab import LabConfig
    from harness.proxy.master import Proxy
    from harness.virtual.apps.runner import AppRunner
    from harness.virtual.internet import start_internet
    from harness.virtual.spec import HandsetSpec
    from harness.virtual.state import HandsetState

    internet = start_internet(tmp_path / "internet")
    spec = HandsetSpec.model_validate({
        "name": "pin-test",
        "build": {"manufacturer": "Vendorco", "brand": "vendorco", "model": "VC-8", "product": "vc8",
                  "device": "vc8", "release": "13", "sdk": 33, "security_patch": "2023-05-05",
                  "build_id": "TP1A.220624.014", "incremental": "1"},
        "identifiers": {"imei": VENDOR_IMEI, "imsi": "404450123456789", "iccid": "8991045012345678901",
                        "phone": "+919812345670", "serial": "VC8P0A1B2C3D", "android_id": "9f2c41a7d3e8b056",
                        "wifi_mac": "7c:a1:77:3e:5b:12", "bt_mac": "7c:a1:77:3e:5b:13",
                        "advertising_id": "2b7e1d6c-3f0a-4c58-9e4b-1a2d3c4e5f60"},
        "packages": [{"name": BANK, "activities": [".LoginActivity"], "behaviours": {
            "sdk": "com.vendor.bank.net.ApiClient", "user_agent": "okhttp", "pins": ["internet-ca"],
            "sends": [{"id": "session", "url": f"https://{BANK_HOST}/v1/session", "every": 1,
                       "fields": [{"name": "device", "read": "android_id"}]}]}}],
    })
    state = HandsetState(spec, device_loopback=LOOPBACK)
    runner = AppRunner(state, internet)
    lab = LabConfig.model_validate({
        "name": "instrument-pin-lab", "jurisdiction": "IN",
        "proxy": {"network": "contained", "zone": str(internet.zone_path)},
        "state_dir": str(tmp_path / "state"),
    })
    proxy = Proxy(lab, capture_dir=tmp_path / "capture", device="virtual:pin-test",
                  listen_host=LOOPBACK, port=0)
    (tmp_path / "capture").mkdir()
    proxy.start()
    try:
        state.add_system_ca(proxy.ca_cert_path.read_bytes())  # trusted, as a rooted lab phone's
        state.settings["global"]["http_proxy"] = f"127.0.0.1:{proxy.port}"
        yield runner, proxy
    finally:
        runner.close()
        proxy.stop()
        internet.stop()


def test_pinned_app_fails_through_the_proxy_until_unpinned(pinned_bank: Any, tmp_path: Path) -> None:
    runner, proxy = pinned_bank
    flows_path = proxy.capture_dir / FLOWS_JSONL

    def bank_flows() -> list[dict[str, Any]]:
        return [f for f in iter_jsonl(flows_path) if BANK_HOST in (f.get("host"), f.get("sni"))]

    def pinning_failed() -> bool:
        return runner.log_path.exists() and "Certificate pinning failure!" in runner.log_path.read_text()

    pid = runner.start(BANK)
    assert _wait_for(pinning_failed, 30), "the pinned app did not refuse the proxy's certificate"
    assert not [f for f in bank_flows() if f.get("kind") == "http"]

    hooks_dir = tmp_path / "hooks"
    hooks_dir.mkdir()
    with Instrumentation("local", "virtual:pin-test", hooks_dir, ["sensitive"], [BANK]) as inst:
        info = attach(inst, BANK, pid)
        assert "unpin" in info.parts
        decrypted = _wait_for(lambda: [f for f in bank_flows() if f.get("kind") == "http"], 30)
        assert decrypted, "no decrypted flow after unpinning"
        assert decrypted[0]["url"].startswith(f"https://{BANK_HOST}/v1/session")
        assert decrypted[0]["status"] == 200
        applied = {(e["api"], e["library"]) for e in _events(inst, type="unpin:applied")}
        assert {("okhttp3.CertificatePinner.check", "okhttp3"),
                ("com.android.org.conscrypt.TrustManagerImpl.checkServerTrusted", "conscrypt")} <= applied
        bypassed = _wait_for(lambda: _events(inst, type="unpin:bypassed"), 10)
        assert bypassed and bypassed[0]["package"] == BANK and bypassed[0]["pid"] == pid
        assert any("com.labvirt.net.HttpClient" in frame for frame in bypassed[0]["stack"])
        # OkHttp's chain cleaner called the List-returning overload, and got the chain back
        cleaner = [e for e in bypassed if e["library"] == "conscrypt" and e["host"] == BANK_HOST
                   and any("AndroidCertificateChainCleaner.clean" in f for f in e["stack"])]
        assert cleaner, [(e["api"], e["library"], e["host"]) for e in bypassed]
        assert not _events(inst, type="hook:error"), [(e["api"], e["value"]) for e in _events(inst, type="hook:error")]


# --- real-phone paths against the virtual handset's adbd: adb forward, version over adb ---


def _push_fake_server(handset: Any, version: str) -> None:
    import io

    handset.device.sync.push(io.BytesIO(f"ELF... frida-server-{version}\n".encode()),
                             "/data/local/tmp/frida-server", 0o755)


def _forwards(handset: Any) -> list[str]:
    return [f"{f.local} {f.remote}" for f in handset.device.forward_list()]


def test_remote_mode_refuses_a_mismatched_server_and_leaves_no_forward(virtual_handset, tmp_path: Path) -> None:
    import frida

    from harness.config.lab import DeviceEntry
    from harness.errors import InstrumentError
    from harness.instrument import AdbServer

    handset = virtual_handset("vendor-1.0")
    adb = AdbServer(port=handset.adb.port)
    entry = DeviceEntry(serial=handset.serial, frida="remote")

    _push_fake_server(handset, "16.1.4")
    with pytest.raises(InstrumentError) as info:
        Instrumentation(entry, handset.serial, tmp_path, adb=adb)
    message = str(info.value)
    assert f"frida-server 16.1.4 on {handset.serial}" in message
    assert message.endswith(f"frida-server-{frida.__version__}-android-arm64.xz")
    assert _forwards(handset) == []

    _push_fake_server(handset, frida.__version__)  # the right version, but nothing listens
    with pytest.raises(InstrumentError, match="no frida-server answers on .* through adb forward tcp:"):
        Instrumentation(entry, handset.serial, tmp_path, adb=adb)
    assert _forwards(handset) == []
    assert not (tmp_path / "hooks.jsonl").exists()


def test_vendor_1_1_address_book_read_is_traced_with_the_rows(virtual_handset, tmp_path: Path) -> None:
    handset = virtual_handset("vendor-1.1")
    telemetry = _wait_for(lambda: _pidof(handset, "com.vendor.telemetry"), 30)
    assert telemetry
    with Instrumentation("local", handset.serial, tmp_path, ["sensitive"]) as inst:
        attach(inst, "com.vendor.telemetry", telemetry)
        reads = _wait_for(lambda: _events(inst, category="contacts"), 25)
        assert reads, "no contacts query traced"
        read = reads[0]
        assert read["api"] == "android.content.ContentResolver.query"
        assert "contacts" in read["uri"]
        assert "Ravi Kumar" in read["value"] and "+919876543210" in read["value"], read["value"]
        assert any(frame.startswith("com.partner.metrics.Uploader.") for frame in read["stack"]), read["stack"]
        # the hook put the cursor back; the app keeps running and querying on its timer
        assert _wait_for(lambda: len(_events(inst, category="contacts")) >= 2, 25)
