"""Identifiers and Mainline module versions on virtual handsets of SDK 33, 34, 35 and 36,
through the real adb server: each release's iphonesubinfo codes read IMEI, IMSI, ICCID and
the line 1 number; a vendor build whose codes moved is read through the fallbacks, and what
cannot be read is a note saying what was tried."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.config.lab import LabConfig
from harness.devices import open_device, prepare, restore
from harness.devices.identifiers import SIMINFO_URI, read_identifiers
from harness.virtual.spec import HANDSETS_DIR

pytestmark = pytest.mark.e2e
SUBSCRIBER = ("imei", "imsi", "iccid", "phone")
# (handset, SDK, {identifier: code that reads it}, ART module, its version, Play system update)
RELEASES = [
    ("vendor-1.0", 33, {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}, "com.android.art", 330090000, None),
    ("rooted-a14", 34, {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}, "com.android.art", 340090000, None),
    ("rooted-a15", 35, {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}, "com.google.android.art", 351010000,
     "2025-02-01"),
    ("rooted-a16", 36, {"imei": 1, "imsi": 8, "iccid": 13, "phone": 16}, "com.google.android.art", 361010000,
     "2025-06-01"),
]


def lab(tmp_path: Path) -> LabConfig:
    return LabConfig.model_validate({"name": "t", "jurisdiction": "IN", "state_dir": tmp_path / "state"})


def spec_ids(name_or_path: str | Path) -> dict[str, str]:
    path = Path(name_or_path) if str(name_or_path).endswith(".yaml") else HANDSETS_DIR / f"{name_or_path}.yaml"
    return yaml.safe_load(path.read_text())["identifiers"]


@pytest.mark.parametrize(("name", "sdk", "codes", "art", "art_version", "update"), RELEASES,
                         ids=[r[0] for r in RELEASES])
def test_identifiers_and_art_per_release(virtual_handset, adb_server, tmp_path, name, sdk, codes, art,
                                         art_version, update):
    vh = virtual_handset(name)
    handset = open_device(vh.serial, lab(tmp_path), client=adb_server.client)
    info = handset.info
    assert (info.sdk, info.art_module, info.art_version, info.play_system_update) == (sdk, art, art_version, update)
    ids = read_identifiers(handset, info.sdk, info.rooted)
    expected = spec_ids(name)
    assert {n: ids.values[n] for n in SUBSCRIBER} == {n: expected[n] for n in SUBSCRIBER}
    assert {n: ids.sources[n] for n in SUBSCRIBER} == {
        n: f"service call iphonesubinfo {code}" for n, code in codes.items()}  # no fallback was needed
    assert not set(ids.missing) & set(SUBSCRIBER)


def test_moved_codes_are_read_through_fallbacks_and_a_missing_number_is_a_note(
        virtual_handset, adb_server, tmp_path):
    """A vendor Android 16 build with its own IPhoneSubInfo method at 11 (codes >= 11 move by
    one) and a SIM without a line 1 number; prepare writes what it read and why the number is
    missing to canaries.json."""
    data = yaml.safe_load((HANDSETS_DIR / "rooted-a16.yaml").read_text())
    data["telephony"] = {"vendor_method_at": 11}
    data["identifiers"]["phone"] = ""
    spec = tmp_path / "vendor-a16.yaml"
    spec.write_text(yaml.safe_dump(data))
    vh = virtual_handset(str(spec))
    config = lab(tmp_path)
    handset = open_device(vh.serial, config, client=adb_server.client)
    prepared = prepare(handset, config, None, None, None, tmp_path / "cap", canaries=False, frida=False)
    restore(handset, prepared.journal)
    canaries = json.loads((tmp_path / "cap" / "canaries.json").read_text())
    values, sources, missing = (canaries["identifiers"], canaries["identifiers_source"],
                                canaries["identifiers_missing"])
    expected = data["identifiers"]
    assert {n: values[n] for n in ("imei", "imsi", "iccid")} == {n: expected[n] for n in ("imei", "imsi", "iccid")}
    assert sources["iccid"] == "service call iphonesubinfo 14 (a vendor method before it)"
    assert values["phone"] is None and "phone" not in sources
    note = missing["phone"]
    assert "service call iphonesubinfo 16: exception -2: Parcel data not fully consumed" in note
    assert "service call iphonesubinfo 15 (code of Android 11-15): answered the iccid" in note
    assert "service call iphonesubinfo 17 (a vendor method before it): not set" in note
    assert f"{SIMINFO_URI}: not set" in note


@pytest.mark.parametrize(("name", "sdk", "codes"), [r[:3] for r in RELEASES], ids=[r[0] for r in RELEASES])
def test_a_sim_without_a_number_leaves_a_note(virtual_handset, adb_server, tmp_path, name, sdk, codes):
    data = yaml.safe_load((HANDSETS_DIR / f"{name}.yaml").read_text())
    data["identifiers"]["phone"] = ""
    spec = tmp_path / f"{name}-no-number.yaml"
    spec.write_text(yaml.safe_dump(data))
    vh = virtual_handset(str(spec))
    handset = open_device(vh.serial, lab(tmp_path), client=adb_server.client)
    ids = read_identifiers(handset, handset.info.sdk, handset.info.rooted)
    assert ids.values["phone"] is None and ids.values["iccid"] == data["identifiers"]["iccid"]
    note = ids.missing["phone"]
    assert note.startswith(f"service call iphonesubinfo {codes['phone']}: not set; ")
    assert note.endswith(f"{SIMINFO_URI}: not set")
