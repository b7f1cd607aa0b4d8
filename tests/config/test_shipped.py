"""The lab.yaml and profiles shipped in the repository validate, and stay short enough to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.lab import Profile, load_lab, load_profile, step_kind

ROOT = Path(__file__).resolve().parents[2]

SHIPPED_PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))


def test_shipped_lab_validates():
    lab = load_lab(ROOT / "lab.yaml")
    assert lab.jurisdiction == "IN"


@pytest.mark.parametrize("path", SHIPPED_PROFILES, ids=[p.name for p in SHIPPED_PROFILES])
def test_shipped_profiles_validate_and_stay_short(path):
    profile = load_profile(path)
    assert isinstance(profile, Profile)
    assert profile.name == path.stem
    assert profile.description
    assert profile.estimated_seconds() <= 150  # each runs in ~1-2 minutes on the virtual handset


def test_required_profiles_are_shipped():
    names = {p.stem for p in SHIPPED_PROFILES}
    assert {"demo", "idle-baseline", "app-audit", "firmware-regression"} <= names


def test_firmware_regression_is_fixed():
    profile = load_profile(ROOT / "profiles" / "firmware-regression.yaml")
    kinds = [step_kind(s) for s in profile.steps]
    assert kinds[0] == "reboot" and "idle" in kinds
    monkeys = [s.monkey for s in profile.steps if step_kind(s) == "monkey"]
    assert monkeys and all(m.seed == 7 for m in monkeys)
    launched = [s.launch.package for s in profile.steps if step_kind(s) == "launch"]
    assert launched == ["com.vendor.weather", "com.vendor.bank"]
