"""TLS of the virtual apps through a real intercepting mitmproxy: CA stores per SDK, the
user store only for apps that opt in, and certificate pinning."""

from __future__ import annotations

import json

import pytest
from support.apps_kit import IMEI, Mitm

from harness.virtual.apps.runner import wait_for
from harness.virtual.internet.ca import subject_hash_old

pytestmark = pytest.mark.e2e
LOOPBACK = "127.77.199.1"
USER_STORE = "/data/misc/user/0/cacerts-added"


@pytest.fixture(scope="module")
def mitm(tmp_path_factory, internet):
    m = Mitm(tmp_path_factory.mktemp("mitm"), internet, LOOPBACK)
    yield m
    m.close()


def _ca_name(pem: bytes) -> str:
    from cryptography import x509
    return subject_hash_old(x509.load_pem_x509_certificate(pem)) + ".0"


def _app(name: str, url: str, **net) -> dict:
    return {"name": name, "behaviours": {"sdk": "com.vendor.analytics.Tracker", "sends": [
        {"id": "s", "url": url, **net, "fields": [{"name": "imei", "read": "imei"}]}]}}


def _via(state, mitm) -> None:
    state.settings["global"]["http_proxy"] = f"127.0.0.1:{mitm.port}"


def _flows_for(mitm, host: str) -> list:
    return [f for f in mitm.recorder.flows if f.request.pretty_host == host]


def _log_has(runner, text: str, timeout: float = 30) -> bool:
    return wait_for(lambda: runner.log_path.exists() and text in runner.log_path.read_text(), timeout)


def test_system_trusted_proxy_ca_lets_mitmproxy_read_the_request(apps, mitm):
    state, runner = apps([_app("com.example.sys", "https://analytics.vendor-cloud.example/s1")],
                         loopback=LOOPBACK)
    state.add_system_ca(mitm.ca_pem)
    _via(state, mitm)
    runner.start("com.example.sys")
    assert wait_for(lambda: _flows_for(mitm, "analytics.vendor-cloud.example"), 30)
    flow = _flows_for(mitm, "analytics.vendor-cloud.example")[0]
    assert flow.request.path == "/s1"
    assert json.loads(flow.request.content) == {"imei": IMEI}
    assert flow.client_conn.sni == "analytics.vendor-cloud.example"
    assert wait_for(lambda: flow.response is not None, 30), flow.error
    assert flow.response.status_code == 200  # answered by the zone's responder


def test_pinned_app_fails_through_the_intercepting_proxy(apps, mitm):
    state, runner = apps([_app("com.vendor.bank", "https://api.bank.example/login", pins=["internet-ca"])],
                         loopback=LOOPBACK)
    state.add_system_ca(mitm.ca_pem)
    _via(state, mitm)
    runner.start("com.vendor.bank")
    assert wait_for(lambda: "api.bank.example" in mitm.recorder.tls_failures, 30)
    assert _log_has(runner, "Certificate pinning failure!")
    assert not _flows_for(mitm, "api.bank.example")


def test_pinned_app_succeeds_against_the_real_server(apps):
    state, runner = apps([_app("com.vendor.bank", "https://api.bank.example/direct", pins=["internet-ca"])])
    runner.start("com.vendor.bank")
    assert _log_has(runner, "POST https://api.bank.example/direct -> 200")


def test_user_store_is_trusted_only_by_apps_that_opt_in(apps, mitm):
    state, runner = apps([
        _app("com.example.strict", "https://api.weather.example/strict"),
        _app("com.example.optin", "https://api.weather.example/optin", trust_user_cas=True),
    ], loopback=LOOPBACK)
    state.files.mkdir(USER_STORE, 0o755, parents=True)
    state.files.write(f"{USER_STORE}/{_ca_name(mitm.ca_pem)}", mitm.ca_pem, 0o644)
    _via(state, mitm)
    runner.start("com.example.strict")
    runner.start("com.example.optin")
    assert wait_for(lambda: any(f.request.path == "/optin" for f in mitm.recorder.flows), 30)
    assert _log_has(runner, "Trust anchor for certification path not found")
    assert not any(f.request.path == "/strict" for f in mitm.recorder.flows)


def test_android_14_reads_the_conscrypt_apex_store(apps, mitm):
    state, runner = apps([_app("com.example.apex", "https://news.portal.example/apex")], sdk=34,
                         loopback=LOOPBACK)
    name = _ca_name(mitm.ca_pem)
    # Only the legacy path: an Android 14 app does not see it.
    state.files.write(f"/system/etc/security/cacerts/{name}", mitm.ca_pem, 0o644)
    _via(state, mitm)
    runner.start("com.example.apex")
    assert _log_has(runner, "Trust anchor for certification path not found")
    runner.stop("com.example.apex")
    state.files.write(f"/apex/com.android.conscrypt/cacerts/{name}", mitm.ca_pem, 0o644)
    runner.start("com.example.apex")
    assert wait_for(lambda: any(f.request.path == "/apex" for f in mitm.recorder.flows), 30)


def test_android_16_app_requiring_ct_refuses_the_proxys_certificates(apps, mitm):
    ct = {"certificate_transparency": True}
    state, runner = apps([_app("com.example.ct", "https://api.weather.example/ct", **ct)], sdk=36,
                         loopback=LOOPBACK)
    state.add_system_ca(mitm.ca_pem)  # trusted (a rooted phone), but its certificates have no SCTs
    _via(state, mitm)
    runner.start("com.example.ct")
    assert _log_has(runner, "does not conform to required transparency policy: NOT_ENOUGH_SCTS")
    assert wait_for(lambda: "api.weather.example" in mitm.recorder.tls_failures, 30)
    assert not any(f.request.path == "/ct" for f in mitm.recorder.flows)
    # Before Android 16 the same app does not enforce it.
    state, runner = apps([_app("com.example.ct", "https://api.weather.example/ct35", **ct)], sdk=35,
                         loopback=LOOPBACK)
    state.add_system_ca(mitm.ca_pem)
    _via(state, mitm)
    runner.start("com.example.ct")
    assert wait_for(lambda: any(f.request.path == "/ct35" for f in mitm.recorder.flows), 30)


def test_each_tls_stack_reaches_the_real_server(apps):
    # The virtual internet's certificates carry SCTs and match every app's checks.
    state, runner = apps([
        _app("com.example.ct", "https://api.weather.example/ct", certificate_transparency=True),
        _app("com.example.hv", "https://api.bank.example/hv", tls="hostname_verifier", pins=["internet-ca"]),
        _app("com.example.wv", "https://news.portal.example/wv", tls="webview"),
    ], sdk=36)
    for package in ("com.example.ct", "com.example.hv", "com.example.wv"):
        runner.start(package)
    assert _log_has(runner, "POST https://api.weather.example/ct -> 200")
    assert _log_has(runner, "POST https://api.bank.example/hv -> 200")
    assert _log_has(runner, "POST https://news.portal.example/wv -> 200")


@pytest.mark.parametrize("stack", ["cronet", "boringssl", "flutter"])
def test_native_tls_stacks_verify_in_the_native_library(apps, mitm, stack):
    # The real server passes; through the proxy (its CA only in the user store) the native
    # verification refuses it and the proxy sees the TLS alert.
    state, runner = apps([_app(f"com.example.{stack}", f"https://api.bank.example/{stack}", tls=stack),
                          _app(f"com.example.{stack}.p", f"https://api.weather.example/{stack}", tls=stack)],
                         loopback=LOOPBACK)
    runner.start(f"com.example.{stack}")
    assert _log_has(runner, f"POST https://api.bank.example/{stack} -> 200")
    state.files.mkdir(USER_STORE, 0o755, parents=True)
    state.files.write(f"{USER_STORE}/{_ca_name(mitm.ca_pem)}", mitm.ca_pem, 0o644)
    _via(state, mitm)
    before = len(mitm.recorder.tls_failures)
    runner.start(f"com.example.{stack}.p")
    refused = "CERTIFICATE_VERIFY_FAILED" if stack == "flutter" else "net::ERR_CERT_AUTHORITY_INVALID"
    assert _log_has(runner, refused)
    assert wait_for(lambda: "api.weather.example" in mitm.recorder.tls_failures[before:], 30)
    assert not any(f.request.path == f"/{stack}" for f in mitm.recorder.flows)
