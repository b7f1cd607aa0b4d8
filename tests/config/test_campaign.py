"""Campaign files: the model, file:line errors, the profiles they name, the JSON Schema,
and `lab config check` on them."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.config.campaign import load_campaign
from harness.config.check import check_files, kind_of
from harness.config.schema import FILES, render, schemas
from harness.config.yaml_source import ConfigProblems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "campaigns" / "example.yaml"
PROFILE = "name: quick\nsteps: [{idle: 1s}]\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def campaign_dir(tmp_path: Path, body: str, profiles: dict[str, str] | None = None) -> Path:
    for name, text in (profiles or {"quick.yaml": PROFILE}).items():
        write(tmp_path / "profiles" / name, text)
    return write(tmp_path / "campaigns" / "c.yaml", body)


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigProblems) as e:
        load_campaign(path)
    return [str(p) for p in e.value.problems]


def test_the_example_loads_with_its_profiles_and_store():
    loaded = load_campaign(EXAMPLE)
    assert loaded.name == "example"
    assert [p.name for p in loaded.profiles] == ["idle-baseline", "demo"]
    assert loaded.profiles[0].text == (ROOT / "profiles" / "idle-baseline.yaml").read_text()
    assert [h.serial for h in loaded.campaign.handsets] == [
        "virtual:vendor-1.0", "virtual:vendor-1.1", "virtual:reference", "virtual:rooted-a14"]
    assert loaded.store.resolve() == ROOT / "captures" / "campaigns" / "example"  # relative to the file
    (pair,) = loaded.campaign.baselines
    assert (pair.baseline.handset, pair.new.handset) == ("virtual:vendor-1.0", "virtual:vendor-1.1")


def test_handset_shorthand_defaults_and_paths_relative_to_the_file(tmp_path):
    path = campaign_dir(tmp_path, "name: c\nprofiles: [../profiles/quick.yaml]\n"
                                  "handsets: [virtual:reference, {serial: R58M12, label: Phone}]\n")
    loaded = load_campaign(path)
    assert [(h.serial, h.label) for h in loaded.campaign.handsets] == [
        ("virtual:reference", None), ("R58M12", "Phone")]
    assert loaded.campaign.repetitions == 1 and loaded.store is None
    assert loaded.profiles[0].path == tmp_path / "campaigns" / ".." / "profiles" / "quick.yaml"


def test_errors_name_file_line_and_key(tmp_path):
    path = campaign_dir(tmp_path, (
        "name: 'bad name'\n"                          # 1
        "profiles: [../profiles/quick.yaml]\n"       # 2
        "handsets:\n"                                # 3
        "  - serial: virtual:reference\n"            # 4
        "    lable: x\n"                             # 5
        "  - 'x;reboot'\n"                           # 6
        "repetitions: 0\n"                           # 7
        "stor: here\n"))                             # 8
    found = problems(path)
    assert f"{path}:1:7: name: 'bad name' is not a campaign name" in found[0]
    assert f"{path}:5:5: handsets[0].lable: unknown key 'lable' (did you mean 'label'?)" in found[1]
    assert found[2].startswith(f"{path}:6:5: handsets[1].serial: 'x;reboot' is not a device serial")
    assert found[3].startswith(f"{path}:7:14: repetitions: Input should be greater than or equal to 1")
    assert found[4].startswith(f"{path}:8:1: stor: unknown key 'stor' (did you mean 'store'?)")
    assert len(found) == 5


def test_a_handset_twice_is_an_error(tmp_path):
    path = campaign_dir(tmp_path, "name: c\nprofiles: [../profiles/quick.yaml]\n"
                                  "handsets: [virtual:reference, {serial: virtual:reference}]\n")
    assert problems(path) == [f"{path}:3:11: handsets: handset virtual:reference is listed twice"]


def test_profiles_are_loaded_their_errors_name_their_own_file(tmp_path):
    path = campaign_dir(tmp_path, "name: c\nprofiles:\n  - ../profiles/quick.yaml\n  - ../profiles/broken.yaml\n"
                                  "  - ../profiles/absent.yaml\n  - ../profiles/same.yaml\nhandsets: [S1]\n",
                        {"quick.yaml": PROFILE, "broken.yaml": "name: b\nsteps: [{idel: 1s}]\n",
                         "same.yaml": PROFILE})
    found = problems(path)
    broken = tmp_path / "campaigns" / ".." / "profiles" / "broken.yaml"
    assert found[0].startswith(f"{broken}:2:10: steps[0].idel: unknown"), found
    assert found[1] == f"{tmp_path / 'campaigns' / '..' / 'profiles' / 'absent.yaml'}: no such file"
    assert found[2] == (f"{path}:6:5: profiles[3]: two profiles are named 'quick': "
                        "a campaign tells its runs apart by profile name")


def test_baseline_pairs_are_checked(tmp_path):
    write(tmp_path / "old-capture" / "run.json", "{}")
    path = campaign_dir(tmp_path, (
        "name: c\nprofiles: [../profiles/quick.yaml]\nhandsets: [A, B]\n"
        "baselines:\n"
        "  - {baseline: {handset: A}, new: {handset: C}}\n"                  # 5
        "  - {baseline: {capture: ../old-capture}, new: {handset: B}}\n"     # 6: fine
        "  - {baseline: {capture: ../nowhere}, new: {handset: B}, profiles: [slow]}\n"  # 7
        "  - {baseline: {handset: A}, new: {handset: A}}\n"                  # 8
        "  - {baseline: {handset: A, capture: ../old-capture}, new: {handset: B}}\n"))  # 9
    assert problems(path) == [
        f"{path}:9:16: baselines[4].baseline: give exactly one of handset: SERIAL or capture: FOLDER"]
    path.write_text(path.read_text().replace("  - {baseline: {handset: A, capture: ../old-capture}, "
                                             "new: {handset: B}}\n", ""))
    assert problems(path) == [
        f"{path}:5:45: baselines[0].new.handset: C is not one of the campaign's handsets (A, B)",
        f"{path}:7:26: baselines[2].baseline.capture: {tmp_path / 'campaigns' / '..' / 'nowhere'}: "
        "no such capture folder",
        f"{path}:7:68: baselines[2].profiles: 'slow' is not one of the campaign's profiles (quick)",
        f"{path}:8:35: baselines[3].new: baseline and new are the same handset A",
    ]


def test_lab_config_check_knows_a_campaign(tmp_path):
    assert kind_of(tmp_path / "x.yaml", {"handsets": []}) == "campaign"
    assert kind_of(tmp_path / "campaigns" / "x.yaml", None) == "campaign"
    assert kind_of(tmp_path / "x.yaml", {"handset": [], "repetitions": 1, "store": "s"}) == "campaign"
    bad = campaign_dir(tmp_path, "name: c\nprofiles: [../profiles/quick.yaml]\nhandsets: [A]\nrepetitons: 2\n")
    good, wrong = check_files([EXAMPLE, bad])
    assert (good.kind, good.ok) == ("campaign", True)
    assert (wrong.kind, wrong.ok) == ("campaign", False)
    assert wrong.errors == [f"{bad}:4:1: repetitons: unknown key 'repetitons' (did you mean 'repetitions'?); "
                            "known keys: baselines, description, handsets, name, profiles, repetitions, store"]


def test_committed_campaign_schema_is_in_sync_and_judges_like_the_model():
    assert (ROOT / "schemas" / FILES["campaign"]).read_text(encoding="utf-8") == render(schemas()["campaign"]), (
        "schemas/campaign.schema.json is stale: run `make schema` (lab config schema --write schemas/)")
    validator = jsonschema.Draft202012Validator(schemas()["campaign"])
    assert EXAMPLE.read_text().startswith("# yaml-language-server: $schema=../schemas/campaign.schema.json")
    assert not list(validator.iter_errors(yaml.safe_load(EXAMPLE.read_text())))
    base = {"name": "c", "profiles": ["p.yaml"], "handsets": ["A"]}
    assert validator.is_valid(base | {"handsets": ["A", {"serial": "B", "label": "b"}], "repetitions": 3})
    for bad in ({"name": "c", "profiles": ["p.yaml"]}, base | {"repetitions": 0}, base | {"name": "a b"},
                base | {"handsets": [{"serial": "A", "lable": "x"}]}, base | {"stor": "x"},
                base | {"baselines": [{"baseline": {"handset": "A", "capture": "x"}, "new": {"handset": "A"}}]},
                base | {"baselines": [{"baseline": {}, "new": {"handset": "A"}}]}):
        assert not validator.is_valid(bad), bad
