"""`lab diff` and `lab regress` verify their captures before comparing them: an edited
baseline cannot decide the verdict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.capture_builder import NEW_HOST, CaptureBuilder

from harness.cli.main import main
from harness.diff.evidence import verify_inputs
from harness.diff.render import junit_refused


@pytest.fixture(autouse=True)
def _no_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command runs in a folder without a lab.yaml."""
    monkeypatch.chdir(tmp_path)


def lab(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    """A baseline (vendor-1.0) and a new capture with a regression (vendor-1.1)."""
    base = CaptureBuilder(tmp_path / "base").vendor_scenario().write()
    new = CaptureBuilder(tmp_path / "new", variant="vendor-1.1", run_id="run-new").vendor_scenario().write()
    return base, new


def _poison(base: Path, new: Path) -> None:
    """Append the new run's flows to the baseline's flows.jsonl: every change is 'known'."""
    with (base / "flows.jsonl").open("a") as fh:
        fh.write((new / "flows.jsonl").read_text())


def test_a_baseline_edited_after_its_manifest_is_refused(tmp_path: Path) -> None:
    base, new = _pair(tmp_path)
    code, out = lab("diff", base, new)
    assert code == 1 and NEW_HOST in out  # the regression, as it stands
    _poison(base, new)
    junit = tmp_path / "junit.xml"
    code, out = lab("diff", base, new, "--junit", junit)
    assert code == 2, out
    assert f"lab: baseline {base} fails verification: changed: flows.jsonl" in out
    assert "--no-verify compares anyway" in out
    assert "no regression" not in out
    root = ET.parse(junit).getroot()
    (case,) = root.iter("testcase")
    error = case.find("error")
    assert case.get("name") == "evidence" and error is not None and root.get("errors") == "1"
    assert f"baseline {base}: changed: flows.jsonl" in error.text


def test_no_verify_compares_anyway_and_says_so(tmp_path: Path) -> None:
    base, new = _pair(tmp_path)
    _poison(base, new)
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(main, ["diff", str(base), str(new), "--no-verify", "--junit", str(junit)])
    assert result.exit_code == 0, result.output  # the poisoned baseline wins: the user asked for it
    assert "- evidence: captures NOT verified (--no-verify)" in result.stdout
    assert "lab: captures not verified (--no-verify)" in result.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    evidence = [c for c in suite.iter("testcase") if c.get("name") == "evidence"]
    assert evidence and evidence[0].find("skipped") is not None and suite.get("skipped") == "1"
    code, out = lab("diff", base, new, "--no-verify", "--format", "json")
    assert json.loads(out[out.index("{"):])["verification"]["verified"] is False


def test_verified_inputs_are_named_in_every_output(tmp_path: Path) -> None:
    base, new = _pair(tmp_path)
    junit = tmp_path / "junit.xml"
    code, out = lab("diff", base, new, "--junit", junit)
    assert code == 1
    assert "- evidence: 2 capture(s) verified against their manifests (signatures: absent)" in out
    evidence = [c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "evidence"]
    assert evidence and evidence[0].find("failure") is None and evidence[0].find("skipped") is None
    code, out = lab("diff", base, new, "--format", "json")
    verification = json.loads(out)["verification"]
    assert verification["ok"] and [c["side"] for c in verification["captures"]] == ["baseline", "new"]


def test_a_signing_lab_requires_signed_inputs(tmp_path: Path) -> None:
    base, new = _pair(tmp_path)  # unsigned
    key = tmp_path / "lab.pem"
    assert lab("keygen", key)[0] == 0
    (tmp_path / "lab.yaml").write_text(f"name: signing lab\njurisdiction: IN\nsigning_key: {key}\n"
                                       f"state_dir: {tmp_path / 'state'}\n")
    code, out = lab("diff", base, new)
    assert code == 2
    assert f"baseline {base} fails verification: signature: MISSING" in out


def test_verify_inputs_names_each_failing_capture(tmp_path: Path) -> None:
    base, new = _pair(tmp_path)
    _poison(base, new)
    checked = verify_inputs([base], [new])
    assert [c.side for c in checked.failed] == ["baseline"] and not checked.ok
    assert checked.failed[0].problems == ["changed: flows.jsonl"]
    assert "<error" in junit_refused(checked)
    (new / "run.json").unlink()
    checked = verify_inputs([], [new])  # flows.jsonl alone: an interrupted run
    assert checked.failed[0].problems == ["no run.json (an interrupted run?): nothing to verify against"]


def test_regress_refuses_an_edited_baseline_before_the_run(tmp_path: Path) -> None:
    base, new = _pair(tmp_path)
    _poison(base, new)
    (tmp_path / "lab.yaml").write_text(f"name: t\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n"
                                       f"captures_dir: {tmp_path / 'captures'}\n")
    (tmp_path / "profile.yaml").write_text("name: p\nsteps: [{idle: 1s}]\n")
    junit = tmp_path / "junit.xml"
    code, out = lab("regress", "profile.yaml", "--device", "NOSUCH", "--baseline", base, "--junit", junit)
    assert code == 2, out  # not 3: the handset is never looked for
    assert f"lab: baseline {base} fails verification: changed: flows.jsonl" in out
    assert not (tmp_path / "captures").exists()
    assert ET.parse(junit).getroot().find("testsuite/testcase/error") is not None
