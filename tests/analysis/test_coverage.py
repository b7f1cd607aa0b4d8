"""Coverage per app: what the audit could and could not read of each app's traffic."""

from __future__ import annotations

from support.capture_builder import CaptureBuilder

from harness.analysis.frames import analyse


def test_each_app_says_what_could_not_be_read(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    geo = {"country": "US", "org": "X", "org_country": "US"}
    b.flow("quic.video.example", at=70, server_ip="198.51.100.5", geo=geo, kind="tcp", app="com.video",
           port=443, tls={"intercepted": False, "version": None, "failure": None})  # passed on, TLS
    b.flow("198.51.100.6", at=71, server_ip="198.51.100.6", geo=geo, kind="tcp", app="com.video",
           port=5000, tls={"intercepted": False, "version": None, "failure": None}, sni=None)  # raw TCP
    b.flow("v.example", at=72, server_ip="198.51.100.7", geo=geo, app="com.video")  # read
    a = analyse([b.write()])
    c = a.app_coverage.set_index("app")
    assert list(a.app_coverage["app"])[0] == "com.vendor.bank"  # the least readable first
    bank = c.loc["com.vendor.bank"]
    assert (bank["connections"], bank["pinned"], bank["readable_percent"]) == (1, 1, 0.0)
    assert bank["coverage"] == "none of 1 read (1 pinned)"
    video = c.loc["com.video"]
    assert (video["intercepted"], video["not_decrypted"], video["non_http"]) == (1, 1, 1)
    assert video["coverage"] == "2 of 3 not read (1 not decrypted, 1 non http)"
    tele = c.loc["com.vendor.telemetry"]
    assert (tele["intercepted"], tele["bypassed"]) == (3, 1)
    assert c.loc["com.vendor.weather", "coverage"] == "all 4 read"
    assert c["connections"].sum() == len(a.flows) + len(a.bypassed)
