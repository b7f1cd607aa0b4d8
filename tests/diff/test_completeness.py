"""`lab diff` does not judge a capture whose run did not play its whole profile (a step
failed, the run was interrupted or killed) as if it were complete, unless told to."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.capture_builder import NEW_HOST, CaptureBuilder

from harness.capture.manifest import write_manifest
from harness.cli.main import main
from harness.diff.compare import diff_captures
from harness.errors import CaptureError


def _pair(tmp_path, status: str | None, side: str = "new"):
    """A baseline and a vendor-1.1 capture (one regression); `side`'s run ended with `status`
    (None: no run.json, as a killed run leaves it)."""
    base = CaptureBuilder(tmp_path / "base").vendor_scenario()
    new = CaptureBuilder(tmp_path / "new", variant="vendor-1.1", run_id="run-new").vendor_scenario()
    paths = {"base": base.write(), "new": new.write()}
    spoiled = new if side == "new" else base
    if status is None:
        (paths[side] / "run.json").unlink()
    else:  # a manifest as the run wrote it, hashes and all
        write_manifest(paths[side], {**spoiled.run_json(), "status": status,
                                     "error": "2 of 4 steps failed: step 1 launch: refused"})
    return paths["base"], paths["new"]


@pytest.mark.parametrize("status", ["partial", "failed", "interrupted", None])
@pytest.mark.parametrize("side", ["new", "base"])
def test_lab_diff_refuses_a_capture_of_a_run_that_did_not_complete(tmp_path, status, side):
    base, new = _pair(tmp_path, status, side)
    spoiled = new if side == "new" else base
    with pytest.raises(CaptureError, match=f"{spoiled}: {'run ' + status if status else 'no run.json'}"):
        diff_captures([base], [new])
    r = CliRunner().invoke(main, ["diff", str(base), str(new)])
    assert r.exit_code == 2, r.output
    if status is not None:  # (a capture without run.json cannot be verified either: refused earlier)
        (line,) = r.output.strip().splitlines()
        assert line.startswith(f"lab: {spoiled}: run {status} (2 of 4 steps failed: ")
        assert "--allow-partial" in line


def test_allow_partial_judges_it_and_says_so(tmp_path):
    base, new = _pair(tmp_path, "partial")
    r = CliRunner().invoke(main, ["diff", str(base), str(new), "--allow-partial", "--format", "json"])
    assert r.exit_code == 1, r.output  # the regression is still one
    assert "lab: warning: " in r.stderr and str(new) in r.stderr and "partial" in r.stderr
    data = json.loads(r.stdout)
    assert data["verdict"] == "regression" and NEW_HOST in json.dumps(data["regressions"])
    assert [p["path"] for p in data["incomplete"]] == [str(new)]
    assert data["incomplete"][0]["status"] == "partial"
    result = diff_captures([base], [new], allow_partial=True)
    assert [(p.path, p.status) for p in result.incomplete] == [(new, "partial")]


@pytest.mark.parametrize("status", ["ok", "imported"])
def test_complete_and_imported_captures_are_judged(tmp_path, status):
    base, new = _pair(tmp_path, status)
    r = CliRunner().invoke(main, ["diff", str(base), str(new)])
    assert r.exit_code == 1, r.output
    assert "warning" not in r.stderr
    assert diff_captures([base], [new]).incomplete == []
