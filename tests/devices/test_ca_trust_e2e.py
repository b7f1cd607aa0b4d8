"""After prepare, a virtual app's HTTPS request through an intercepting mitmproxy succeeds:
the CA is where that Android version reads it (SDK 33 tmpfs overlay, SDK 34-36 conscrypt APEX,
inside the app's own mount namespace).

mitmproxy runs in-process on 127.0.0.1 with lazy upstream connections and answers every
request itself, so nothing leaves the machine; the handset reaches it through
`adb reverse`, exactly as a phone would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import yaml

from harness.config.lab import LabConfig
from harness.devices import apps, open_device, prepare, restore
from harness.virtual.spec import HANDSETS_DIR

pytestmark = pytest.mark.e2e


class Answer:
    """Answers every request locally and records what it saw (decrypted)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.tls_failures: list[str] = []

    def request(self, flow) -> None:
        from mitmproxy import http

        self.requests.append((flow.request.pretty_host, flow.request.path))
        flow.response = http.Response.make(200, b"{}", {"content-type": "application/json"})

    def tls_failed_client(self, data) -> None:
        self.tls_failures.append(str(data.context.client.sni))


class Mitm:
    def __init__(self, confdir: Path) -> None:
        from mitmproxy import options
        from mitmproxy.tools.dump import DumpMaster

        self.answer = Answer()
        self.master = None
        self.port = 0
        opts = options.Options(listen_host="127.0.0.1", listen_port=0, confdir=str(confdir))

        async def run() -> None:
            master = DumpMaster(opts, with_termlog=False, with_dumper=False)
            # never connect upstream: answer every request here (loopback only)
            master.options.update(connection_strategy="lazy", upstream_cert=False)
            self.master = master
            self.master.addons.add(self.answer)
            await self.master.run()

        self.thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.port:
            assert time.monotonic() < deadline, "mitmproxy did not start"
            if self.master is not None:
                addrs = self.master.addons.get("proxyserver").listen_addrs()
                self.port = addrs[0][1] if addrs else 0
            time.sleep(0.05)
        pem = confdir / "mitmproxy-ca-cert.pem"
        while not pem.exists() or not pem.read_bytes().strip().endswith(b"-----END CERTIFICATE-----"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        self.ca_pem = pem.read_bytes()

    def close(self) -> None:
        if self.master is not None:
            self.master.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def mitm(tmp_path):
    m = Mitm(tmp_path / "mitm")
    yield m
    m.close()


def spec_with_weather_app(tmp_path: Path, base: str) -> Path:
    """`base` handset with vendor-1.0's weather app (HTTPS at launch) as its only user app."""
    vendor = yaml.safe_load((HANDSETS_DIR / "vendor-1.0.yaml").read_text())
    spec = yaml.safe_load((HANDSETS_DIR / f"{base}.yaml").read_text())
    weather = next(p for p in vendor["packages"] if p["name"] == "com.vendor.weather")
    spec["name"] = f"{base}-weather"
    spec["packages"] = [p for p in spec["packages"] if p["name"] == "ca.zgrs.clipper"] + [weather]
    path = tmp_path / f"{base}-weather.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


# SDK 33 (tmpfs overlay), 34, 35 and 36 (the conscrypt APEX, bound in every app's mount namespace)
@pytest.mark.parametrize("base", ["vendor-1.0", "rooted-a14", "rooted-a15", "rooted-a16"])
def test_prepared_handset_app_trusts_the_proxy_ca(virtual_handset, adb_server, mitm, tmp_path, base):
    vh = virtual_handset(str(spec_with_weather_app(tmp_path, base)))
    lab = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})
    handset = open_device(vh.serial, lab, client=adb_server.client)
    before = vh.state_dump()
    prepared = prepare(handset, lab, None, mitm.port, mitm.ca_pem, tmp_path / "cap", frida=False,
                       canaries=False)
    try:
        apps.launch(handset, "com.vendor.weather", ".MainActivity")
        deadline = time.monotonic() + 60
        while ("api.weather.example", "/v1/forecast") not in {(h, p.split("?")[0]) for h, p in mitm.answer.requests}:
            assert time.monotonic() < deadline, f"no decrypted request; TLS failures: {mitm.answer.tls_failures}"
            time.sleep(0.2)
        assert "api.weather.example" not in mitm.answer.tls_failures
    finally:
        apps.stop(handset, "com.vendor.weather")
        restore(handset, prepared.journal)
    assert vh.state_dump() == before
