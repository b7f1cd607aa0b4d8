"""run.json's device record: the ART module and Play system update a Frida Java bridge
failure can be tied to, and the identifiers prepare could not read (with why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_run_json_records_art_play_update_and_identifier_notes(tmp_path, adb_env, lab_files):
    profile = {"name": "device-record", "steps": [{"idle": "1s"}]}
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:rooted-a16", "frida": "local"}], None, profile)
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:rooted-a16", "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    run = Path(json.loads(result.stdout)[0]["run_dir"])
    device = json.loads((run / "run.json").read_text())["device"]
    canaries = json.loads((run / "canaries.json").read_text())
    assert (device["sdk"], device["art_module"], device["art_version"], device["play_system_update"]) == (
        36, "com.google.android.art", 361010000, "2025-06-01")
    assert device["identifiers_source"] == canaries["identifiers_source"]
    assert device["identifiers_source"]["iccid"] == "service call iphonesubinfo 13"
    assert device["identifiers_missing"] == canaries["identifiers_missing"]
    assert "wifi_mac" not in device["identifiers_missing"]


def test_run_json_names_the_identifiers_not_read(tmp_path, adb_env, lab_files):
    profile = {"name": "device-record", "steps": [{"idle": "1s"}]}
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:reference", "frida": "local"}], None, profile)
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:reference", "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    run = Path(json.loads(result.stdout)[0]["run_dir"])
    device = json.loads((run / "run.json").read_text())["device"]
    assert device["identifiers_missing"] == {"advertising_id": "needs root (Google Play services' shared_prefs)"}
    assert (device["art_module"], device["art_version"], device["play_system_update"]) == (
        "com.android.art", 340090000, None)
