"""`lab diff` in requirements: each change names the requirement ids it concerns, and the
JUnit file has a test case per requirement (the component cases stay as they were)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from support.capture_builder import CaptureBuilder

from harness.diff.compare import diff_captures
from harness.diff.render import RENDERERS, diff_markdown, junit_xml
from harness.diff.requirements import change_triggers


def vendor_diff(tmp_path):
    base = CaptureBuilder(tmp_path / "base").vendor_scenario().write()
    new = CaptureBuilder(tmp_path / "new", variant="vendor-1.1").vendor_scenario().write()
    return diff_captures([base], [new])


def cases(xml: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(xml)
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_junit_names_a_test_case_after_each_requirement(tmp_path):
    result = vendor_diff(tmp_path)
    xml = junit_xml(result)
    found = cases(xml)
    requirement_cases = {name for cls, name in found if cls == "lab.diff.requirements"}
    assert {"MASVS-PRIVACY-1", "MASVS-PRIVACY-2", "MASWE-0108", "ETSI EN 303 645 6-1",
            "DPDP Act 2023 s.16"} <= requirement_cases
    failed = {name for (cls, name), c in found.items() if cls == "lab.diff.requirements" and c.find("failure") is not None}
    assert {"MASVS-PRIVACY-1", "MASWE-0108", "DPDP Act 2023 s.16"} <= failed
    assert "MASVS-PRIVACY-2" not in failed and "MASVS-NETWORK-1" not in failed  # a contact is no identifier
    law = found[("lab.diff.requirements", "DPDP Act 2023 s.16")].find("failure")
    assert law.get("type") == "new_foreign_destination_with_data"
    assert "sync.cloudbridge.example" in law.get("message") and "Digital Personal Data Protection Act" in law.text
    # the component cases tooling knows stay, with their names
    assert found[("lab.diff", "com.vendor.weather")].find("failure") is not None
    root = ET.fromstring(xml)
    assert int(root.get("tests")) == len(found) and int(root.get("failures")) == sum(
        1 for c in found.values() if c.find("failure") is not None)
    components, requirements = root.findall("testsuite")
    assert components.get("failures") == "1" and int(requirements.get("failures")) == len(failed)
    assert requirements.get("name") == "lab diff requirements: run-vendor-1.0 -> run-vendor-1.1"


def test_changes_name_their_requirements_in_every_rendering(tmp_path):
    result = vendor_diff(tmp_path)
    (new_dest,) = [c for c in result.changes if c.kind == "new_destination"]
    assert {"MASVS-PRIVACY-1", "MASWE-0108", "DPDP Act 2023 s.16"} <= set(new_dest.requirements)
    data = json.loads(RENDERERS["json"](result))
    assert "DPDP Act 2023 s.16" in data["regressions"][0]["requirements"]
    assert {r["id"] for r in data["requirements"]} >= {"MASVS-PRIVACY-1", "DPDP Act 2023 s.16"}
    md = diff_markdown(result)
    assert "| requirements |" in md and "DPDP Act 2023 s.16" in md
    assert "DPDP Act 2023 s.16" in RENDERERS["html"](result)


def test_a_new_identifier_abroad_concerns_the_identification_requirements(tmp_path):
    base = CaptureBuilder(tmp_path / "base").firmware_scenario().write()
    new = CaptureBuilder(tmp_path / "new", variant="vendor-1.1").firmware_scenario().write()
    result = diff_captures([base], [new])
    (serial,) = [c for c in result.changes if c.kind == "new_data_type"]
    assert serial.regression and serial.data["data_type"] == "serial"
    assert {"MASVS-PRIVACY-2", "MASWE-0110", "DPDP Act 2023 s.16"} <= set(serial.requirements)
    failed = {c.get("name") for c in ET.fromstring(junit_xml(result)).iter("testcase")
              if c.find("failure") is not None}
    assert {"MASVS-PRIVACY-2", "com.vendor.telemetry"} <= failed


def test_triggers_of_each_kind_of_change():
    assert change_triggers("new_destination", "r", {"foreign": True, "data_types": ["imei", "contact"]}) == [
        "data_sent", "identifier_sent", "personal_data_sent", "data_abroad"]
    assert change_triggers("new_destination", None, {"foreign": True, "data_types": []}) == ["foreign"]
    assert change_triggers("new_country", "new_watchlist_country", {}) == ["watchlist_country", "foreign"]
    assert change_triggers("new_cleartext_with_data", "r", {}) == ["cleartext_data", "cleartext"]
    assert change_triggers("flags_changed", None, {"gained": ["bypassed_proxy", "not_allowlisted"]}) == [
        "bypassed_proxy"]
    assert change_triggers("coverage_change", None, {"baseline": {"tls_rejected": 0}, "new": {"tls_rejected": 3}}) == [
        "tls_rejected"]
    assert change_triggers("device_change", None, {}) == []
