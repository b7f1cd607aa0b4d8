"""The report's verdict: first in the HTML, each line linked to its evidence rows and its
requirements; the phases, timers, coverage per app and SDK sections; every format
carries the same lines; masked values stay masked; hostile ids stay text."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser

import pytest
from support.capture_builder import IMEI, IMSI, CaptureBuilder, _geo

from harness.report import FORMATS, write_reports


class Page(HTMLParser):
    """The order of h2 headings and section ids, every id and every in-page link."""

    def __init__(self):
        super().__init__()
        self.headings: list[str] = []
        self.sections: list[str] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self._h2 = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "h2":
            self._h2 = True
            self.headings.append("")
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"][1:])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._h2 = False

    def handle_data(self, data):
        if self._h2:
            self.headings[-1] += data
        self.text.append(data)


def page(path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture
def firmware(tmp_path):
    b = CaptureBuilder(tmp_path / "run").firmware_scenario()
    return b.write()


def test_the_verdict_is_the_first_section_and_every_link_has_its_row(firmware, tmp_path):
    (html,) = write_reports([firmware], ["html"], out=tmp_path / "out")
    p = page(html)
    assert p.headings[0] == "Verdict" and p.sections[0] == "verdict"
    assert {"Requirements", "Evidence", "Recurring connections", "Trackers and SDKs",
            "Coverage per app: what the audit could read",
            "Per phase: what the handset sent in each scenario"} <= set(p.headings)
    assert p.links and set(p.links) <= p.ids  # every evidence, requirement and line link lands
    text = html.read_text(encoding="utf-8")
    first = re.search(r'<li id="v-1" value="1" class="sev-high">(.*?)</li>', text, re.S).group(1)
    assert "sent the IMEI (sha256) to telemetry.vendor-cloud.example — run by Alibaba (home country CN), " \
           "server located US — 13 times (every" in first
    assert 'href="#ef-1"' in first and 'href="#eh-1"' in first and "(+3 more)" in first
    assert re.search(r'<tr id="ef-1"><td>flow</td><td>run-vendor-1.0-f0003</td>', text)
    assert re.search(r'<tr id="eh-1"><td>hook event</td><td>run-vendor-1.0#h5</td>', text)
    req = re.search(r'<tr id="(req-\d+)"><td>MASVS-PRIVACY-2</td>.*?</tr>', text, re.S)
    assert req and 'href="#v-1"' in req.group(0) and f'href="#{req.group(1)}"' in first
    assert 'rel="noreferrer noopener">https://github.com/OWASP/masvs/blob/master/controls/MASVS-PRIVACY-2.md' in text


def test_phases_timers_coverage_and_sdks_are_in_the_html(firmware, tmp_path):
    (html,) = write_reports([firmware], ["html"], out=tmp_path / "out")
    text = " ".join(page(html).text)
    assert "SIM insertion" in text and "iccid (plain), imsi (plain)" in text
    assert re.search(r"every 2[67]\d s \+/- [\d.]+ s, 13 times", text)
    assert "Vendor Telemetry (virtual firmware)" in text and "com.vendor.telemetry.core.Reporter" in text
    assert "all 16 read" in text


def test_every_format_carries_the_verdict_first(firmware, tmp_path):
    out = tmp_path / "out"
    write_reports([firmware], FORMATS, out=out)
    report = json.loads((out / "report.json").read_text())
    findings = [v["finding"] for v in report["verdict"]]
    with (out / "verdict.csv").open() as fh:
        assert [r["finding"] for r in csv.DictReader(fh)] == findings
    assert {r["phase"] for r in report["phases"]} >= {"first start", "SIM insertion", "idle"}
    status = {r["requirement"]: r["status"] for r in report["requirements"]}
    assert status["MASVS-PRIVACY-2"] == "finding" and status["MASVS-NETWORK-1"] == "no finding"
    md = (out / "report.md").read_text()
    assert md.index("## Verdict") < md.index("## Summary")
    assert f"1. **high** {findings[0].split(' — ')[0]}" in md
    for name in ("verdict", "requirements", "phases", "recurring", "app_coverage", "sdks"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.parquet").exists()


def test_values_stay_masked_in_the_verdict_and_its_evidence(tmp_path):
    b = CaptureBuilder(tmp_path / "run").firmware_scenario()
    b.flow("ads.example", at=150, server_ip="198.51.100.90", geo=_geo("US", "Ads Inc", "US"), method="GET",
           path=f"/t?imsi={IMSI}&imei={IMEI}", flags=["foreign"],
           findings=[{"type": "imei", "id": "imei", "where": "url", "encoding": "plain"}])
    out = tmp_path / "out"
    write_reports([b.write()], ["html", "json", "md", "csv"], out=out)
    for name in ("report.html", "report.json", "report.md", "verdict.csv"):
        text = (out / name).read_text()
        assert IMEI not in text and IMSI not in text, name
    assert "35****09" in (out / "report.html").read_text()  # the evidence row shows the URL, masked


def test_hostile_ids_stay_text_and_anchors_stay_numbers(tmp_path):
    b = CaptureBuilder(tmp_path / "run", run_id='r"><script>alert(1)</script>').vendor_scenario()
    out = tmp_path / "out"
    (html,) = write_reports([b.write()], ["html"], out=out)
    text = html.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in text
    p = page(html)
    assert all(re.fullmatch(r"(v|ef|eh|req)-\d+", link) for link in p.links)
    assert set(p.links) <= p.ids


def test_a_report_with_no_finding_says_so(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.flow("api.example.in", at=5, server_ip="192.0.2.1", geo=_geo("IN", "Y", "IN"), app="com.x")
    (html,) = write_reports([b.write()], ["html"], out=tmp_path / "out")
    p = page(html)
    assert p.headings[0] == "Verdict"
    assert "No finding: nothing sensitive found leaving the device" in " ".join(p.text)


def test_the_labs_table_and_law_decide_the_requirements(firmware, tmp_path):
    from harness.config.lab import LabConfig

    lab = LabConfig.model_validate({"name": "de-lab", "jurisdiction": "DE", "requirements": {"rows": [
        {"id": "LAB-9", "standard": "Lab rules", "title": "No IMEI abroad", "applies_to": ["identifier_sent"]}]}})
    out = tmp_path / "out"
    write_reports([firmware], ["json"], out=out, lab=lab)
    ids = {r["requirement"] for r in json.loads((out / "report.json").read_text())["requirements"]}
    assert "LAB-9" in ids and "MASVS-PRIVACY-2" in ids and "DPDP Act 2023 s.16" not in ids
    write_reports([firmware], ["json"], out=out)  # no lab: as the capture's lab (IN) recorded it
    ids = {r["requirement"] for r in json.loads((out / "report.json").read_text())["requirements"]}
    assert "DPDP Act 2023 s.16" in ids and "LAB-9" not in ids


def test_markdown_says_a_long_verdict_line_whole(tmp_path):
    b = CaptureBuilder(tmp_path / "run").firmware_scenario()
    for at in (150.0, 160.0):  # a second sender makes the line long
        b.flow("telemetry.vendor-cloud.example", at=at, server_ip="47.88.1.20", geo=_geo("US", "Alibaba", "CN"),
               app="com.vendor.update", flags=["foreign", "sensitive_data"],
               findings=[{"type": "imei", "id": "imei", "where": "body:$.d", "encoding": "plain", "offset": 3}])
    out = tmp_path / "out"
    write_reports([b.write()], ["md", "json"], out=out)
    first = json.loads((out / "report.json").read_text())["verdict"][0]
    assert len(first["finding"]) > 300 and len(first["requirements"]) > 100
    md = (out / "report.md").read_text()
    assert first["finding"] in md and first["requirements"] in md and "(truncated)" not in md.split("## Summary")[0]
