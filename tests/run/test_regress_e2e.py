"""Firmware regression end to end: the same profile on vendor-1.0 (twice) and vendor-1.1,
then `lab diff` / `lab regress`, with real handsets, proxy and hooks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

# Long enough for every periodic firmware send (the slowest is every 15 s) to land in
# every run, so that run-to-run noise cannot look like a new destination.
PROFILE = {
    "name": "fw-short",
    "description": "Firmware services only, idle: what the firmware sends by itself.",
    "apps": [{"package": "com.vendor.telemetry"}, {"package": "com.vendor.update"}],
    "hooks": ["sensitive", "network"],
    "steps": [{"idle": "22s"}],
}



def _run(files, *devices: str) -> list[Path]:
    args = ["run", "profile.yaml", "--quiet", "--json"]
    for device in devices:
        args += ["--device", device]
    result = files.lab_cmd(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return [Path(s["run_dir"]) for s in json.loads(result.stdout)]


def _capture_of(files, before: set[Path]) -> Path:
    (made,) = set(files.runs()) - before
    return made


def test_vendor_11_adds_exactly_the_partner_upload(tmp_path, adb_env, lab_files):
    devices = [{"serial": "virtual:vendor-1.0", "frida": "local"},
               {"serial": "virtual:vendor-1.1", "frida": "local"}]
    files = lab_files(tmp_path / "lab", adb_env, devices, None, PROFILE)
    (base,) = _run(files, "virtual:vendor-1.0")

    # the same firmware again: run-to-run noise is not a regression
    known = set(files.runs())
    same = files.lab_cmd("regress", "profile.yaml", "--device", "virtual:vendor-1.0", "--baseline", str(base))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no regression" in same.stdout
    again = _capture_of(files, known)
    assert json.loads(files.lab_cmd("diff", str(base), str(again), "--format", "json").stdout)["regressions"] == []

    # the new firmware: exactly the partner upload of the address book
    known = set(files.runs())
    junit = tmp_path / "junit.xml"
    changed = files.lab_cmd("regress", "profile.yaml", "--device", "virtual:vendor-1.1", "--baseline", str(base),
                            "--junit", str(junit))
    assert changed.returncode == 1, changed.stdout + changed.stderr
    new = _capture_of(files, known)
    regressions = json.loads(files.lab_cmd("diff", str(base), str(new), "--format", "json").stdout)["regressions"]
    assert {r["data"]["key"] for r in regressions} == {"collect.partner-metrics.example"}, regressions
    assert {r["component"] for r in regressions} == {"com.vendor.telemetry"}  # the firmware service
    contact = [r for r in regressions if r["data"].get("data_type") == "contact"]
    assert contact, regressions
    assert [r["data"]["encodings"] for r in contact] == [["gzip+base64"]]  # gzipped, then base64

    suite = ET.parse(junit).getroot()
    failures = suite.findall(".//testcase/failure")
    assert failures
    text = " ".join((f.get("message") or "") + (f.text or "") for f in failures)
    assert "collect.partner-metrics.example" in text and "contact" in text

    garbled = files.lab_cmd("diff", str(tmp_path), str(new))
    assert garbled.returncode == 2
    assert len(garbled.stderr.strip().splitlines()) == 1
    missing = files.lab_cmd("regress", "profile.yaml", "--device", "virtual:vendor-1.1",
                            "--baseline", str(tmp_path / "nope"))
    assert missing.returncode == 2 and not set(files.runs()) - known - {new}
