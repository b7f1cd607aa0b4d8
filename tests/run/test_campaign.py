"""A campaign's plan, exit codes and baseline verdicts, without a cluster (the runs'
captures are built; tests/run/test_campaign_e2e.py runs real ones)."""

from __future__ import annotations

from pathlib import Path

from support.capture_builder import CaptureBuilder

from harness.capture.manifest import sha256_file
from harness.capture.store import RunRecord, open_store, run_key
from harness.config.campaign import load_campaign
from harness.run.baselines import judge_pairs
from harness.run.campaign import CampaignOutcome, plan


def _campaign(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "demo.yaml").write_text("name: demo\nsteps: [{idle: 1s}]\n")
    (tmp_path / "idle.yaml").write_text("name: idle\nsteps: [{idle: 1s}]\n")
    path = tmp_path / "campaign.yaml"
    path.write_text("name: c\nprofiles: [demo.yaml, idle.yaml]\nhandsets: [virtual:vendor-1.0, virtual:vendor-1.1]\n"
                    "repetitions: 2\n" + extra)
    return path


def test_the_plan_is_every_profile_on_every_handset_repetition_by_repetition(tmp_path):
    keys = [r.key for r in plan(load_campaign(_campaign(tmp_path)))]
    assert keys == [f"{p}/virtual:vendor-1.{v}/{rep}" for rep in (1, 2) for p in ("demo", "idle") for v in (0, 1)]


def _outcome(*statuses: str, verdicts: tuple[str, ...] = (), interrupted: bool = False) -> CampaignOutcome:
    runs = [RunRecord(f"p/S{i}/1", "p", f"S{i}", 1, status=s) for i, s in enumerate(statuses)]
    return CampaignOutcome("c", Path("/s"), "embedded", runs, baselines=[{"verdict": v} for v in verdicts],
                           interrupted=interrupted)


def test_exit_codes():
    assert _outcome("ok", "ok", verdicts=("ok",)).exit_code == 0
    assert _outcome("ok", "ok", verdicts=("ok", "regression")).exit_code == 1
    assert _outcome("ok", "partial", verdicts=("regression",)).exit_code == 3
    assert _outcome("ok", "failed", interrupted=True).exit_code == 3
    assert _outcome("ok", "interrupted", interrupted=True).exit_code == 130
    assert _outcome("ok", "interrupted").exit_code == 130
    assert _outcome("ok", "ok").as_dict()["missing"] == []
    assert _outcome("ok", "failed").as_dict()["missing"] == ["p/S1/1"]


def _done(store, profile: str, variant: str, repetition: int) -> RunRecord:
    key = run_key(profile, f"virtual:{variant}", repetition)
    capture = CaptureBuilder(store.run_folder(key) / f"run-{variant}-{repetition}", variant=variant,
                             run_id=f"run-{variant}-{repetition}").vendor_scenario().write()
    return RunRecord(key, profile, f"virtual:{variant}", repetition, status="ok", capture=store.relative(capture),
                     manifest_sha256=sha256_file(capture / "run.json"))


def test_baseline_pairs_are_judged_per_profile_and_repetition(tmp_path):
    old = CaptureBuilder(tmp_path / "old" / "run-old", run_id="run-old").vendor_scenario().write()
    loaded = load_campaign(_campaign(tmp_path, (
        "baselines:\n"
        "  - {name: fw, baseline: {handset: virtual:vendor-1.0}, new: {handset: virtual:vendor-1.1}, profiles: [demo]}\n"
        "  - {baseline: {capture: old/run-old}, new: {handset: virtual:vendor-1.0}}\n")))
    store = open_store(tmp_path / "store", {"id": "c"})
    runs = {r.key: r for r in (_done(store, "demo", "vendor-1.0", 1), _done(store, "demo", "vendor-1.1", 1),
                                _done(store, "demo", "vendor-1.0", 2))}
    failed = RunRecord(run_key("demo", "virtual:vendor-1.1", 2), "demo", "virtual:vendor-1.1", 2, status="failed")
    runs[failed.key] = failed
    verdicts = judge_pairs(loaded, store, runs, None)
    by = {(v["pair"], v["profile"], v["repetition"]): v for v in verdicts}
    assert by[("fw", "demo", 1)]["verdict"] == "regression"  # 1.1 sends a contact to a new foreign host
    assert by[("fw", "demo", 1)]["regressions"]
    assert by[("fw", "demo", 2)] == {
        "pair": "fw", "profile": "demo", "repetition": 2, "verdict": "missing",
        "baseline": runs[run_key("demo", "virtual:vendor-1.0", 2)].capture,
        "new": "run demo/virtual:vendor-1.1/2 did not complete (failed)",
        "reason": "run demo/virtual:vendor-1.1/2 did not complete (failed)"}
    captured = [v for v in verdicts if v["pair"] != "fw"]  # the capture was made with profile demo: only it
    assert [(v["profile"], v["repetition"], v["verdict"]) for v in captured] == [
        ("demo", 1, "ok"), ("demo", 2, "ok")]
    assert captured[0]["baseline"] == str(tmp_path / "old" / "run-old")
    assert len(verdicts) == 4  # no verdict of profile idle: pair fw names demo only; the capture is demo's
    assert old.is_dir()
