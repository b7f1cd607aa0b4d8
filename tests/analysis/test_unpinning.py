"""Per app: which unpinning bypasses were installed and fired, and what stayed unreadable."""

from __future__ import annotations

from support.capture_builder import CaptureBuilder

from harness.analysis.frames import analyse
from harness.report.flat import write_markdown
from harness.report.tables import build_tables


def _unpin(b: CaptureBuilder, kind: str, package: str, library: str, api: str, at: float) -> None:
    b.hooks.append({"type": kind, "ts": b.t0 + at, "device": b.serial, "package": package, "pid": 4100,
                    "thread": None, "api": api, "library": library, "category": "tls",
                    "value": library if kind == "unpin:applied" else "api.bank.example", "stack": []})


def test_app_coverage_says_which_bypasses_fired_and_what_stayed_unreadable(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()  # com.vendor.bank: one pinned flow
    tm = "com.android.org.conscrypt.TrustManagerImpl.checkServerTrusted"
    for library, api in (("conscrypt", tm), ("okhttp3", "okhttp3.CertificatePinner.check")):
        _unpin(b, "unpin:applied", "com.vendor.bank", library, api, 60)
    _unpin(b, "unpin:applied", "com.vendor.bank", "webview", "android.webkit.WebViewClient.onReceivedSslError", 60)
    for at in (62, 63):
        _unpin(b, "unpin:bypassed", "com.vendor.bank", "conscrypt", tm, at)
    _unpin(b, "unpin:bypassed", "com.vendor.bank", "okhttp3", "okhttp3.CertificatePinner.check", 63)
    _unpin(b, "unpin:applied", "com.vendor.flutter", "boringssl-pattern", "libflutter.so!ssl_verify_peer_cert@0x23c0", 65)
    a = analyse([b.write()])
    c = a.app_coverage.set_index("app")
    bank = c.loc["com.vendor.bank"]
    assert bank["unpin_applied"] == "conscrypt, okhttp3, webview"
    assert bank["unpin_fired"] == "conscrypt x2, okhttp3 x1"
    assert (bank["pinned"], bank["pinned_destinations"]) == (1, "secure.bank.example.in")
    flutter = c.loc["com.vendor.flutter"]  # unpinning loaded, no connection seen
    assert (flutter["unpin_applied"], flutter["unpin_fired"], flutter["connections"]) == ("boringssl-pattern", "", 0)
    assert flutter["coverage"] == "no connection seen"
    weather = c.loc["com.vendor.weather"]  # no unpinning
    assert (weather["unpin_applied"], weather["unpin_fired"], weather["pinned_destinations"]) == ("", "", "")
    # every report format carries the columns
    tables = build_tables(a)
    assert {"unpin_applied", "unpin_fired", "pinned_destinations"} <= set(tables.tables["app_coverage"].columns)
    text = write_markdown(tables, tmp_path)[0].read_text()
    assert "conscrypt x2, okhttp3 x1" in text and "boringssl-pattern" in text


def test_without_unpin_events_the_columns_are_empty(tmp_path):
    a = analyse([CaptureBuilder(tmp_path / "run").vendor_scenario().write()])
    assert set(a.app_coverage["unpin_applied"]) == {""} and set(a.app_coverage["unpin_fired"]) == {""}
    assert a.app_coverage.set_index("app").loc["com.vendor.bank", "pinned_destinations"] == "secure.bank.example.in"
