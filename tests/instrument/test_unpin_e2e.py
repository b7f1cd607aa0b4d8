"""unpin.js against each trust-check shape of the virtual apps, one bypass at a time: a real
JVM app fails through an intercepting mitmproxy, Frida loads only that library's bypass,
and the app's request is then read by the proxy (each test fails without its bypass)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from support.apps_kit import Mitm, apps, internet  # noqa: F401 - fixtures
from support.frida_attach import attach

from harness.capture.folder import iter_jsonl
from harness.instrument import Instrumentation
from harness.instrument.instrumentation import AgentOptions
from harness.virtual.apps.runner import wait_for
from harness.virtual.internet.ca import subject_hash_old

pytestmark = pytest.mark.e2e
LOOPBACK = "127.77.233.1"
USER_STORE = "/data/misc/user/0/cacerts-added"
HOST = "api.weather.example"


@pytest.fixture(scope="module")
def mitm(tmp_path_factory: pytest.TempPathFactory, internet: Any) -> Any:  # noqa: F811 - fixture
    m = Mitm(tmp_path_factory.mktemp("mitm"), internet, LOOPBACK)
    yield m
    m.close()


def _app(package: str, path: str, **net: Any) -> dict[str, Any]:
    return {"name": package, "behaviours": {"sdk": "com.vendor.shop.Api", "sends": [
        {"id": "s", "url": f"https://{HOST}{path}", "every": 1, **net,
         "fields": [{"name": "imei", "read": "imei"}]}]}}


def _trust(state: Any, mitm: Any, store: str) -> None:
    """The proxy's CA in the system store (a rooted phone) or only in the user store."""
    if store == "system":
        state.add_system_ca(mitm.ca_pem)
    else:
        state.files.mkdir(USER_STORE, 0o755, parents=True)
        name = subject_hash_old(x509.load_pem_x509_certificate(mitm.ca_pem)) + ".0"
        state.files.write(f"{USER_STORE}/{name}", mitm.ca_pem, 0o644)
    state.settings["global"]["http_proxy"] = f"127.0.0.1:{mitm.port}"


def _read(mitm: Any, path: str) -> list[Any]:
    return [f for f in mitm.recorder.flows if f.request.pretty_host == HOST and f.request.path == path]


def _unpinned(apps_factory: Any, mitm: Any, tmp_path: Path, package: str, path: str, store: str,
              failure: str, libraries: tuple[str, ...], sdk: int = 33,
              **net: Any) -> list[dict[str, Any]]:
    """Start the app, see it fail with `failure`, load only `libraries`' bypasses, see the
    request read by the proxy; the hooks.jsonl records."""
    state, runner = apps_factory([_app(package, path, **net)], sdk=sdk, loopback=LOOPBACK)
    _trust(state, mitm, store)
    pid = runner.start(package)
    assert wait_for(lambda: runner.log_path.exists() and failure in runner.log_path.read_text(), 30), (
        runner.log_path.read_text()[-800:] if runner.log_path.exists() else "no log")
    assert not _read(mitm, path)
    with Instrumentation("local", f"virtual:{package}", tmp_path, (), [package],
                         options=AgentOptions(unpin_libraries=libraries)) as inst:
        attach(inst, package, pid)
        assert wait_for(lambda: _read(mitm, path), 30), runner.log_path.read_text()[-800:]
        inst.flush()
    records = list(iter_jsonl(inst.hooks_path))
    assert not [r for r in records if r["type"] == "hook:error"], [r for r in records if r["type"] == "hook:error"]
    assert {r["library"] for r in records if r["type"].startswith("unpin:")} == set(libraries)
    return records


def _bypassed(records: list[dict[str, Any]], library: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == "unpin:bypassed" and r["library"] == library]


def test_conscrypt_list_overload_returns_the_chain_to_okhttps_cleaner(apps, mitm, tmp_path):  # noqa: F811
    # The CA is only in the user store, which the app does not trust: TrustManagerImpl refuses
    # it; the pins are checked again after the handshake on the chain the List overload returns.
    records = _unpinned(apps, mitm, tmp_path, "com.vendor.shop", "/unpin/conscrypt", "user",
                        "Trust anchor for certification path not found", ("conscrypt", "okhttp3"),
                        pins=["internet-ca"], user_agent="okhttp")
    cleaner = [r for r in _bypassed(records, "conscrypt")
               if r["host"] == HOST and any("AndroidCertificateChainCleaner.clean" in f for f in r["stack"])]
    assert cleaner and cleaner[0]["api"] == "com.android.org.conscrypt.TrustManagerImpl.checkServerTrusted"
    assert _bypassed(records, "okhttp3")


def test_certificate_transparency_of_android_16_is_bypassed(apps, mitm, tmp_path):  # noqa: F811
    # A rooted phone trusts the proxy's CA, but its certificates carry no SCTs.
    records = _unpinned(apps, mitm, tmp_path, "com.vendor.ct", "/unpin/ct", "system",
                        "does not conform to required transparency policy: NOT_ENOUGH_SCTS",
                        ("conscrypt-ct",), sdk=36, certificate_transparency=True)
    checks = _bypassed(records, "conscrypt-ct")
    assert checks[0]["api"] == "com.android.org.conscrypt.ct.CertificateTransparency.checkCT"
    assert checks[0]["host"] == HOST


def test_pinning_hostname_verifier_is_bypassed(apps, mitm, tmp_path):  # noqa: F811
    records = _unpinned(apps, mitm, tmp_path, "com.vendor.pay", "/unpin/hostname", "system",
                        f"Hostname {HOST} not verified", ("hostname-verifier",),
                        tls="hostname_verifier", pins=["internet-ca"])
    apis = {r["api"] for r in _bypassed(records, "hostname-verifier")}
    assert "com.labvirt.app.PinningHostnameVerifier.verify" in apis
    assert all(r["host"] == HOST for r in _bypassed(records, "hostname-verifier"))


def test_webview_ssl_error_proceeds(apps, mitm, tmp_path):  # noqa: F811
    # The CA is only in the user store: the WebView's load stops at a certificate error.
    records = _unpinned(apps, mitm, tmp_path, "com.vendor.portal", "/unpin/webview", "user",
                        "net::ERR_CERT_AUTHORITY_INVALID", ("webview",), tls="webview")
    errors = _bypassed(records, "webview")
    assert errors[0]["api"] == "android.webkit.WebViewClient.onReceivedSslError"
    assert errors[0]["host"] == f"https://{HOST}/unpin/webview"
    assert any(f.startswith("android.webkit.WebView.postUrl") for f in errors[0]["stack"])


@pytest.mark.parametrize(("stack", "api"), [
    ("cronet", "libsscronet.so!SSL_set_custom_verify"),
    ("boringssl", "libsscronet.so!ssl_crypto_x509_session_verify_cert_chain"),
])
def test_native_boringssl_is_bypassed_by_symbol(apps, mitm, tmp_path, stack, api):  # noqa: F811
    # A JNI library verifying in native code, against the system store (the CA is in the user store).
    records = _unpinned(apps, mitm, tmp_path, f"com.vendor.{stack}", f"/unpin/{stack}", "user",
                        "net::ERR_CERT_AUTHORITY_INVALID", ("boringssl-symbol",), tls=stack)
    assert api in {r["api"] for r in records if r["type"] == "unpin:applied"}
    fired = [r for r in _bypassed(records, "boringssl-symbol") if r["api"] == api]
    assert fired and any("com.labvirt.net.NativeTls.exchangeExported" in f for f in fired[0]["stack"])


def test_stripped_flutter_library_is_bypassed_by_pattern(apps, mitm, tmp_path):  # noqa: F811
    records = _unpinned(apps, mitm, tmp_path, "com.vendor.flutter", "/unpin/flutter", "user",
                        "CERTIFICATE_VERIFY_FAILED", ("boringssl-pattern",), tls="flutter")
    fired = _bypassed(records, "boringssl-pattern")
    assert fired and fired[0]["api"].startswith("libflutter.so!ssl_verify_peer_cert@0x")


def test_a_trust_manager_handed_over_after_attach_is_patched(apps, mitm, tmp_path):  # noqa: F811
    # The app's first send comes after the attach: the WebView's verifier class loads then and
    # reaches unpin.js only through SSLContext.init (a lookup of an app class inside that JDK
    # method failed: NoClassDefFoundError); it is patched for the sends after it.
    package, path = "com.vendor.late", "/unpin/late"
    app = _app(package, path, tls="webview")
    app["behaviours"]["sends"][0].update(when=[], every=4)
    state, runner = apps([app], loopback=LOOPBACK)
    _trust(state, mitm, "user")
    pid = runner.start(package)
    # attached once the JVM runs the app (attaching while it starts up can time out)
    assert wait_for(lambda: runner.log_path.exists() and f"Start proc {pid}:" in runner.log_path.read_text(), 30)
    with Instrumentation("local", f"virtual:{package}", tmp_path, (), [package],
                         options=AgentOptions(unpin_libraries=("trustmanager",))) as inst:
        attach(inst, package, pid)
        assert wait_for(lambda: _read(mitm, path), 30), runner.log_path.read_text()[-800:]
        inst.flush()
    records = list(iter_jsonl(inst.hooks_path))
    assert not [r for r in records if r["type"] == "hook:error"]
    assert "android.webkit.WebView$ChromiumVerifier.checkServerTrusted" in {
        r["api"] for r in records if r["type"] == "unpin:applied" and r["library"] == "trustmanager"}


# (name, tls shape and its extras, what the app logs when it fails, the bypass that fixes it);
# the HostnameVerifier's send fails at the trust anchor first, then at the verifier
SHAPES = [
    ("conscrypt", {"pins": ["internet-ca"], "user_agent": "okhttp"}, "Trust anchor for certification path not found",
     "conscrypt"),
    ("hostname", {"tls": "hostname_verifier", "pins": ["internet-ca"]}, "Trust anchor for certification path not found",
     "hostname-verifier"),
    ("native", {"tls": "boringssl"}, "net::ERR_CERT_AUTHORITY_INVALID", "boringssl-symbol"),
]


@pytest.mark.parametrize("sdk", [33, 34, 35, 36])
def test_every_trust_check_shape_is_unpinned_on_each_release(apps, mitm, tmp_path, sdk):  # noqa: F811
    """One app per release with the Conscrypt List overload (under OkHttp's pins), a pinning
    HostnameVerifier and a native BoringSSL client, CA only in the user store (Android 16's
    Certificate Transparency has its own test). All bypasses loaded: every send is read."""
    package = f"com.vendor.sdk{sdk}"
    paths = [f"/sdk{sdk}/{name}" for name, *_ in SHAPES]  # the proxy is shared by the module's tests
    sends = [{"id": f"s{i}", "url": f"https://{HOST}{path}", "every": 1, **net,
              "fields": [{"name": "imei", "read": "imei"}]} for i, (path, (_, net, _, _)) in enumerate(zip(paths, SHAPES, strict=True))]
    state, runner = apps([{"name": package, "behaviours": {"sdk": "com.vendor.shop.Api", "sends": sends}}],
                         sdk=sdk, loopback=LOOPBACK)
    _trust(state, mitm, "user")
    pid = runner.start(package)
    log = lambda: runner.log_path.read_text() if runner.log_path.exists() else ""  # noqa: E731
    assert wait_for(lambda: all(f"{HOST}{path} failed: " in log() and failure in log()
                                for path, (_, _, failure, _) in zip(paths, SHAPES, strict=True)), 60), log()[-800:]
    assert not any(_read(mitm, path) for path in paths)
    libraries = ("conscrypt", "okhttp3", "hostname-verifier", "boringssl-symbol")
    with Instrumentation("local", f"virtual:{package}", tmp_path, (), [package],
                         options=AgentOptions(unpin_libraries=libraries)) as inst:
        attach(inst, package, pid)
        assert wait_for(lambda: all(_read(mitm, path) for path in paths), 30), log()[-800:]
        inst.flush()
    records = list(iter_jsonl(inst.hooks_path))
    assert not [r for r in records if r["type"] == "hook:error"]
    fired = {r["library"] for r in records if r["type"] == "unpin:bypassed"}
    assert {library for *_, library in SHAPES} <= fired, fired
