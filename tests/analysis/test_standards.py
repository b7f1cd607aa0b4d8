"""Standards: the shipped requirements table with its sources, a lab's own table in
lab.yaml (extend, replace), the lab's jurisdiction, and the table a capture recorded."""

from __future__ import annotations

import json

import pytest
from support.capture_builder import CaptureBuilder

from harness.analysis.frames import analyse
from harness.analysis.standards import (
    RequirementTable,
    parse_requirement_table,
    shipped_requirements,
)
from harness.config import load_lab
from harness.config.requirements import RequirementsConfig
from harness.errors import ConfigError

EXPECTED = ["MASVS-NETWORK-1", "MASVS-NETWORK-2", "MASVS-PRIVACY-1", "MASVS-PRIVACY-2", "MASVS-PRIVACY-3",
            "MASWE-0050", "MASWE-0108", "MASWE-0110", "MASTG-TEST-0206", "MASTG-TEST-0236",
            "ETSI EN 303 645 5.5-1", "ETSI EN 303 645 5.8-1", "ETSI EN 303 645 5.8-2", "ETSI EN 303 645 6-1",
            "ETSI EN 303 645 6-4", "ETSI EN 303 645 6-5", "DPDP Act 2023 s.16"]


def test_the_shipped_table_has_the_standards_each_with_its_source():
    rows = {r.id: r for r in shipped_requirements()}
    assert set(EXPECTED) <= set(rows)
    for r in rows.values():
        assert r.source and r.source.startswith("https://"), r.id
    assert rows["DPDP Act 2023 s.16"].jurisdiction == "IN"
    assert {str(t) for t in rows["MASVS-PRIVACY-2"].applies_to} == {"identifier_sent"}


def test_a_law_applies_only_in_its_jurisdiction():
    assert "DPDP Act 2023 s.16" in RequirementTable.for_lab(None, "IN").ids(["data_abroad"])
    assert "DPDP Act 2023 s.16" not in RequirementTable.for_lab(None, "DE").ids(["data_abroad"])
    assert RequirementTable.for_lab(None, "IN").ids(["cleartext"]) == [
        "MASVS-NETWORK-1", "MASWE-0050", "MASTG-TEST-0236", "ETSI EN 303 645 5.5-1"]


LAB = """\
name: test lab
jurisdiction: IN
requirements:
  replace: {replace}
  rows:
    - id: LAB-7.2
      standard: Lab procedure LP-7
      title: No identifier leaves the device unhashed
      applies_to: [identifier_sent]
      source: https://lab.example/lp-7
    - id: MASVS-PRIVACY-2
      standard: OWASP MASVS (lab wording)
      title: Identifiers stay on the device
      applies_to: [identifier_sent, telemetry]
"""


def test_a_lab_extends_the_table_and_replaces_a_row_by_its_id(tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB.format(replace="false"))
    lab = load_lab(tmp_path / "lab.yaml")
    table = RequirementTable.for_lab(lab.requirements, lab.jurisdiction)
    ids = [r.id for r in table.rows]
    assert ids[-1] == "LAB-7.2" and ids.count("MASVS-PRIVACY-2") == 1 and len(ids) == len(shipped_requirements()) + 1
    assert table.get("MASVS-PRIVACY-2").title == "Identifiers stay on the device"
    assert table.ids(["telemetry"])[0] == "MASVS-PRIVACY-2"


def test_a_lab_replaces_the_table(tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB.format(replace="true"))
    lab = load_lab(tmp_path / "lab.yaml")
    table = RequirementTable.for_lab(lab.requirements, lab.jurisdiction)
    assert [r.id for r in table.rows] == ["LAB-7.2", "MASVS-PRIVACY-2"]


@pytest.mark.parametrize(("rows", "fragment"), [
    ("[{id: X-1, standard: s, title: t, applies_to: [identifiers_sent]}]", "applies_to[0]: Input should be"),
    ("[{id: X-1, standard: s, title: t, applies_to: []}]", "applies_to"),
    ("[{id: X-1, standard: s, title: t, applies_to: [data_sent], jurisdiction: XX}]", "XX"),
    ("[{id: X-1, standard: s, title: t, applies_to: [data_sent]}, {id: X-1, standard: s, title: t, "
     "applies_to: [data_sent]}]", "listed twice"),
    ("[{id: X-1, standard: s, title: t, applies_to: [data_sent], url: x}]", "url"),
])
def test_a_bad_lab_table_is_a_config_error_naming_file_and_line(tmp_path, rows, fragment):
    (tmp_path / "lab.yaml").write_text(f"name: l\njurisdiction: IN\nrequirements:\n  rows: {rows}\n")
    with pytest.raises(ConfigError) as err:
        load_lab(tmp_path / "lab.yaml")
    assert "lab.yaml:4" in str(err.value) and fragment in str(err.value)


@pytest.mark.parametrize(("text", "fragment"), [
    ("id,standard\n", "first row"),
    ("id,standard,title,applies_to,jurisdiction,source\nA,b,c,nope,,\n", "row 2 (A): applies_to"),
    ("id,standard,title,applies_to,jurisdiction,source\nA,b,c,data_sent,,\nA,b,c,data_sent,,\n", "twice"),
])
def test_a_bad_shipped_style_table_is_a_clear_error(text, fragment):
    with pytest.raises(ConfigError, match=re_escape(fragment)):
        parse_requirement_table(text, "r.csv")


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_capture_is_read_against_the_table_its_lab_recorded(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    run = b.run_json()
    run["lab"]["requirements"] = RequirementsConfig.model_validate({"replace": True, "rows": [
        {"id": "LAB-1", "standard": "Lab", "title": "No IMEI", "applies_to": ["identifier_sent"]}]}).model_dump(
        mode="json")
    b.write(run_json=run)
    a = analyse([b.root])
    assert list(a.requirements["requirement"]) == ["LAB-1"]
    assert a.requirements.iloc[0]["status"] == "finding"
    given = analyse([b.root], requirements=RequirementsConfig(), jurisdiction="DE")  # the lab's own wins
    assert "DPDP Act 2023 s.16" not in set(given.requirements["requirement"])
    assert "MASVS-PRIVACY-2" in set(given.requirements["requirement"])
    bad = b.run_json()
    bad["lab"]["requirements"] = {"rows": [{"id": "X"}]}
    b.write(run_json=bad)
    broken = analyse([b.root])
    assert any("requirements table does not validate" in w for w in broken.warnings)
    assert "MASVS-PRIVACY-2" in set(broken.requirements["requirement"])
    assert json.loads((b.root / "run.json").read_text())["lab"]["requirements"] == {"rows": [{"id": "X"}]}
