"""The HTML report in a real headless Chromium: scripts run, no console errors, charts drawn.

Needs Debian's `chromium` (/usr/bin/chromium); skips with the reason where it is absent.
The report file has a CSP forbidding fetches and the capture holds no external URL, so
the browser never touches the network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from support.capture_builder import CaptureBuilder

from harness.report import write_reports

CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which(CHROMIUM),
                       reason=f"{CHROMIUM} missing: `apt-get install -y chromium` to run this test"),
]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--no-default-browser-check", "--mute-audio",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_report_opens_without_console_errors_and_shows_charts(tmp_path):
    b = CaptureBuilder(tmp_path / "run", variant="vendor-1.1").vendor_scenario()
    b.flow("<script>alert(1)</script>.example", at=40, server_ip="203.0.113.66",
           geo={"country": "CN", "org": "<i>x</i>"}, path="/<svg onload=alert(3)>")
    out = tmp_path / "report"
    (html,) = write_reports([b.write()], ["html"], out=out)
    url = html.resolve().as_uri()

    dom = chromium(tmp_path, "--dump-dom", url)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert 'data-report-flows="10"' in dom.stdout  # the report's own script ran to its end
    assert "<svg onload" not in dom.stdout and "<i>x</i>" not in dom.stdout

    shot = tmp_path / "report.png"
    run = chromium(tmp_path, "--window-size=1280,1800", f"--screenshot={shot}", url)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert shot.exists() and shot.stat().st_size > 20_000
    keep = os.environ.get("LAB_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_the_verdict_is_the_first_thing_the_browser_shows(tmp_path):
    from support.capture_builder import CaptureBuilder as Builder

    b = Builder(tmp_path / "run").firmware_scenario()
    (html,) = write_reports([b.write()], ["html"], out=tmp_path / "report")
    dom = chromium(tmp_path, "--dump-dom", html.resolve().as_uri())
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    body = dom.stdout[dom.stdout.index("<body>"):]
    first_heading = re.search(r"<h2[^>]*>(.*?)</h2>", body).group(1)
    first_section = re.search(r'<section id="([^"]+)"', body).group(1)
    assert (first_heading, first_section) == ("Verdict", "verdict")
    verdict = body[body.index('<section id="verdict">'):body.index("</section>")]
    assert body.index('<section id="verdict">') < body.index("<h2>Run ")  # before the run and the summary
    items = re.findall(r'<li id="v-(\d+)"', verdict)
    assert items[:3] == ["1", "2", "3"]
    assert "sent the IMEI (sha256) to telemetry.vendor-cloud.example" in verdict
    for anchor in set(re.findall(r'href="#([^"]+)"', verdict)):  # each link lands on a row
        assert f'id="{anchor}"' in body, anchor
