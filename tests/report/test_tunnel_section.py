"""The report's tunnel cross-check (WireGuard mode): one line when nothing leaked, the
leak table and the verdict's leak line when something did; no section in explicit mode."""

from __future__ import annotations

import json

from support.capture_builder import CaptureBuilder, build_capture
from support.wireguard_capture import wireguard, write_wireguard

from harness.report import write_reports


def test_a_clean_wireguard_run_says_so_in_one_line(tmp_path):
    run = write_wireguard(wireguard(CaptureBuilder(tmp_path / "wg")))
    write_reports([run], "html,md,json", out=tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    assert ('<p id="tunnel-check" data-tunnel-leaks="0">Frida saw 5 connections; all went through the tunnel'
            in html)
    assert 'id="t-tunnel_leaks"' not in html
    md = (tmp_path / "out" / "report.md").read_text()
    assert "- tunnel cross-check: Frida saw 5 connections; all went through the tunnel" in md
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["summary"]["counts"]["tunnel_leaks"] == 0 and data["tunnel_leaks"] == []


def test_a_leak_is_in_the_verdict_the_section_and_the_csv(tmp_path):
    b = wireguard(CaptureBuilder(tmp_path / "wg"))
    b.connect("com.vendor.telemetry", None, "198.51.100.77", 8883, at=80, api="libc.connect")
    write_reports([write_wireguard(b)], "html,csv", out=tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'data-tunnel-leaks="1">Frida saw 6 connections; 1 went around the tunnel (leak)' in html
    assert 'id="t-tunnel_leaks"' in html and "198.51.100.77" in html
    first = html[html.index('<ol class="verdict">'):].split("</li>")[0]  # most severe first
    assert "1 connection went around the tunnel (leak): com.vendor.telemetry to 198.51.100.77:8883" in first
    assert "hook event (connect)" in html  # its evidence: the connect Frida saw
    csv_text = (tmp_path / "out" / "tunnel_leaks.csv").read_text()
    assert "com.vendor.telemetry" in csv_text and "8883" in csv_text and "tunnel_leak" in csv_text


def test_explicit_mode_has_no_tunnel_section(tmp_path):
    write_reports([build_capture(tmp_path / "explicit")], "html,json", out=tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="tunnel"' not in html and "Connections that bypassed the proxy" in html
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["summary"]["tunnel_check"] is None  # not checked: no run was in WireGuard mode
    assert data["tunnel_leaks"] == [] and len(data["bypassed"]) == 1
