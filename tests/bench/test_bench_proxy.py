"""`bench proxy` prints each ratio against issue 20's target."""

from __future__ import annotations

from bench.bench_proxy import TARGETS, against


def test_a_ratio_meets_its_target_or_says_not():
    assert against(0.93, 0.90) == "target >= 0.90: met"
    assert against(0.90, 0.90) == "target >= 0.90: met"
    assert against(0.84, 0.85) == "target >= 0.85: NOT met"
    assert against(0.5, None) == "no target"


def test_the_targets_are_the_issue_s():
    assert TARGETS == {("2kb", "plain-save"): 0.90, ("1mb", "plain-save"): 0.90, ("2kb", "mitmdump"): 0.85}
