"""Full-device capture in the report (issue 20): coverage by kind and the DNS-only table
in HTML, JSON, XLSX, CSV and Markdown; an explicit-mode capture says what it could not see."""

from __future__ import annotations

import csv
import json
import re

from openpyxl import load_workbook
from support.raw_capture import (
    IMEI_B64,
    PARTNER_HOST,
    PARTNER_IP,
    PUSH_HOST,
    FullCaptureBuilder,
    build_full,
)

from harness.analysis.frames import analyse
from harness.config import LabConfig
from harness.report import write_reports

LAB = LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "policy": {"watchlist_countries": ["CN"]}})


def _section(html: str, name: str) -> str:
    start = html.index(f'<h2 id="{name}">')
    return html[start:html.index("<h2", start + 5)]


def test_every_format_has_coverage_by_kind_and_dns_only(tmp_path) -> None:
    run = build_full(tmp_path / "run", "vendor-1.1")
    out = tmp_path / "report"
    write_reports([run], "all", out=out, lab=LAB)
    data = json.loads((out / "report.json").read_text())
    kinds = data["summary"]["coverage_by_kind"]["kinds"]
    assert kinds["tcp"]["flows"] == 1 and kinds["tcp"]["bytes_up"] == 180 and kinds["quic"]["bytes_up"] == 1250
    assert {r["kind"] for r in data["kind_coverage"] if r["app"] == "(all)"} == {
        "http", "http3", "pinned", "dns", "tcp", "udp", "quic"}
    [partner] = [r for r in data["dns_only"] if r["name"] == PARTNER_HOST]
    assert (partner["answers"], partner["country"], partner["lookups"]) == (PARTNER_IP, "CN", 3)
    push = next(r for r in data["destinations"] if r["destination"] == PUSH_HOST)
    assert (push["protocols"], push["bytes_up"], push["bytes_down"]) == ("tcp/xmpp", 180, 5)

    html = (out / "report.html").read_text()
    kind_section = _section(html, "kind_coverage")
    assert "TCP (not HTTP)" in kind_section and "QUIC (not intercepted)" in kind_section
    dns_section = _section(html, "dns_only")
    assert PARTNER_HOST in dns_section and 'class="sev-high"' in dns_section
    said = re.search(r'<dd id="coverage-by-kind">(.*?)</dd>', html, re.S).group(1)
    assert '<span data-kind="tcp">TCP (not HTTP): 1 flow(s), 180 B up, 5 B down</span>' in said
    assert "capture mode: wireguard" in said
    assert IMEI_B64 not in html  # payload values are not in the report

    wb = load_workbook(out / "report.xlsx", read_only=True)
    assert {"kind_coverage", "dns_only"} <= set(wb.sheetnames)
    rows = list(wb["dns_only"].iter_rows(values_only=True))
    assert rows[0][:3] == ("severity", "name", "answers") and rows[1][1] == PARTNER_HOST
    with (out / "kind_coverage.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert {"app": "com.vendor.telemetry", "kind": "tcp", "flows": "1", "bytes_up": "180"}.items() <= \
        next(r for r in table if r["app"] == "com.vendor.telemetry" and r["kind"] == "tcp").items()
    md = (out / "report.md").read_text()
    assert "## Destinations seen only through DNS (looked up, never connected to)" in md
    assert "## Coverage by kind: what the capture saw of each kind of traffic" in md


def test_explicit_capture_shows_not_captured_not_zero(tmp_path) -> None:
    run = FullCaptureBuilder(tmp_path / "run", mode="explicit").vendor_scenario().write()
    out = tmp_path / "report"
    write_reports([run], "html,json,xlsx", out=out, lab=LAB)
    data = json.loads((out / "report.json").read_text())
    for kind in ("dns", "tcp", "udp", "quic"):
        assert data["summary"]["coverage_by_kind"]["kinds"][kind]["flows"] is None
    rows = {r["kind"]: r for r in data["kind_coverage"] if r["app"] == "(all)"}
    assert rows["dns"]["status"] == "not captured (explicit proxy)" and rows["dns"]["flows"] is None
    html = (out / "report.html").read_text()
    said = re.search(r'<dd id="coverage-by-kind">(.*?)</dd>', html, re.S).group(1)
    assert '<span data-kind="dns">DNS: not captured (explicit proxy)</span>' in said
    assert '<span data-kind="udp">UDP: not captured (explicit proxy)</span>' in said
    wb = load_workbook(out / "report.xlsx", read_only=True)
    sheet = list(wb["kind_coverage"].iter_rows(values_only=True))
    header = sheet[0]
    dns = next(r for r in sheet[1:] if r[header.index("kind")] == "dns")
    assert dns[header.index("flows")] is None and dns[header.index("status")] == "not captured (explicit proxy)"


def test_dns_lookups_are_not_traffic_in_the_country_org_and_app_counts(tmp_path) -> None:
    """A lookup's destination is the resolver (the tunnel's 10.0.0.53, or a foreign one):
    the countries and organisations charts and the apps table count connections only."""
    b = FullCaptureBuilder(tmp_path / "run").vendor_scenario().full_scenario()
    lookup = b.dns("maps.example", ["198.51.100.77"], at=56, app="com.vendor.weather")
    lookup.update(server_ip="8.8.8.8", country="US", org="Google LLC", org_country="US")
    lookup["dns"]["resolver"] = "8.8.8.8:53"
    run = b.write()
    out = tmp_path / "report"
    write_reports([run], "json", out=out, lab=LAB)
    data = json.loads((out / "report.json").read_text())
    connections = [r for r in b.flows if r["kind"] != "dns"]
    assert sum(r["flows"] for r in data["countries"]) == len(connections)
    assert sum(r["flows"] for r in data["orgs"]) == len(connections)
    assert "Google LLC" not in {r["org"] for r in data["orgs"]}
    assert "unknown" not in {r["country"] for r in data["countries"]}  # the tunnel resolver, not located
    apps = {r["app"]: r for r in data["apps"]}
    assert sum(r["flows"] for r in data["apps"]) == len(connections)
    assert sum(r["dns_lookups"] for r in data["apps"]) == len(b.flows) - len(connections)
    flows = analyse([run]).flows
    weather = flows[(flows["app"] == "com.vendor.weather") & (flows["kind"] != "dns")]
    assert apps["com.vendor.weather"]["bytes_up"] == weather["request_bytes"].sum()
    assert apps["com.vendor.weather"]["destinations"] == weather["destination"].nunique()
    assert apps["com.vendor.weather"]["dns_lookups"] == ((flows["app"] == "com.vendor.weather")
                                                         & (flows["kind"] == "dns")).sum() >= 2
