"""Campaign analytics over a capture store (issue 23): the figures equal the sums of the
single-run reports; firmware changes; the store's captures and its campaign index."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import fields

import pytest
from support.capture_builder import NEW_HOST, build_capture
from support.store_builder import ACME, VENDOR_10, VENDOR_11, build_store

from harness.analysis import Analysis, analyse
from harness.analysis.campaign import UNKNOWN_COUNTRY, campaign_figures
from harness.analysis.export import export_capture, export_missing
from harness.analysis.store import scan_store
from harness.analysis.store_db import store_database

HANDSET_NAME = {VENDOR_10: "V1 bench phone A", VENDOR_11: VENDOR_11.serial, ACME: "AC****Z9"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    built = build_store(tmp_path_factory.mktemp("campaign") / "store")
    outcome = export_missing(list(built.captures.values()))
    assert not outcome.failed and len(outcome.written) == 6
    with store_database(scan_store(built.root)) as db:
        figures = campaign_figures(db)
    singles = {run_id: analyse([path]) for run_id, path in built.captures.items()}
    return built, figures, singles


def test_the_matrix_is_the_sum_of_the_single_run_reports(store):
    built, figures, singles = store
    expected: Counter = Counter()
    with_data: Counter = Counter()
    bytes_up: Counter = Counter()
    for run_id, analysis in singles.items():
        handset = HANDSET_NAME[built.handsets[run_id]]
        flows = analysis.flows.assign(org_country=analysis.flows["org_country"].fillna(UNKNOWN_COUNTRY))
        for country, group in flows.groupby("org_country"):
            expected[handset, country] += len(group)
            with_data[handset, country] += int((group["n_findings"] > 0).sum())
            bytes_up[handset, country] += int(group["request_bytes"].sum())
    got = figures.handset_countries
    assert {(r.handset, r.org_country): r.flows for r in got.itertuples()} == dict(expected)
    assert {(r.handset, r.org_country): r.flows_with_data for r in got.itertuples()} == dict(with_data)
    assert {(r.handset, r.org_country): r.bytes_up for r in got.itertuples()} == dict(bytes_up)
    matrix = figures.matrix.set_index("handset")
    for (handset, country), flows in expected.items():
        assert matrix.loc[handset, country] == flows
    assert set(matrix.index) == {"V1 bench phone A", VENDOR_11.serial, "AC****Z9"}
    assert matrix.loc[VENDOR_11.serial, "SG"] > 0 and matrix.loc["V1 bench phone A", "SG"] == 0
    assert figures.summary["flows"] == sum(len(a.flows) for a in singles.values())
    assert figures.summary["findings"] == sum(len(a.findings) for a in singles.values())


def test_data_types_per_firmware_are_the_sum_of_the_single_run_reports(store):
    built, figures, singles = store
    transmissions: Counter = Counter()
    destinations: dict = defaultdict(set)
    for run_id, analysis in singles.items():
        firmware = built.handsets[run_id].fingerprint
        for item in analysis.summary["data_types_leaving"]:
            transmissions[firmware, item["data_type"]] += item["transmissions"]
            destinations[firmware, item["data_type"]] |= set(item["destinations"])
    got = figures.data_types
    assert {(r.firmware, r.data_type): r.transmissions for r in got.itertuples()} == dict(transmissions)
    assert {(r.firmware, r.data_type): r.destinations for r in got.itertuples()} == {
        k: len(v) for k, v in destinations.items()}
    contact = got[got["data_type"] == "contact"]
    assert list(contact["firmware"]) == [VENDOR_11.fingerprint]  # only firmware 1.1 sends a contact
    assert list(contact["org_countries"]) == ["SG"] and list(contact["transmissions_abroad"]) == [2]
    assert set(got["build_id"]) == {"TQ1A.230105", "TQ2A.230305", "UP1A.231005"}


def test_what_changed_between_firmware_versions_of_one_model(store):
    _, figures, _ = store
    changes = figures.firmware_changes
    assert set(changes["model"]) == {"V1"}  # the X2 has one firmware: nothing to compare
    assert (changes["from_firmware"] == VENDOR_10.fingerprint).all()
    assert (changes["to_firmware"] == VENDOR_11.fingerprint).all()
    assert {(r.change, r.item, r.org_country) for r in changes.itertuples()} == {
        ("new destination", NEW_HOST, "SG"), ("new data type abroad", "contact", "SG")}


def test_the_store_finds_captures_at_any_depth_and_nothing_below_or_beside_them(tmp_path):
    root = tmp_path / "store"
    build_capture(root / "a" / "b" / "c" / "deep")
    build_capture(root / "top")
    build_capture(root / "top" / "inner")  # inside a capture: not searched
    build_capture(root / ".hidden" / "x")
    build_capture(root / "x" / "report" / "y")
    (root / "elsewhere").symlink_to(root / "top", target_is_directory=True)
    store = scan_store(root)
    assert [store.relative(c) for c in store.captures] == ["a/b/c/deep", "top"]
    assert [c.name for c in scan_store(root / "top").captures] == ["top"]  # a capture is a store of one


def test_the_campaign_index_names_missing_runs_and_lends_its_campaign_id(tmp_path):
    built = build_store(tmp_path / "store", campaign=None)
    ids = sorted(built.captures)
    (built.root / "campaign.json").write_text(json.dumps({
        "id": "camp-9",
        "runs": [{"run_id": ids[0], "status": "ok", "host": "host-a", "capture": "host-a/" + ids[0]},
                 {"run_id": "run-lost", "status": "failed", "host": "host-b", "error": "worker died mid-run"},
                 "not a run"],
    }))
    export_capture(built.captures[ids[0]])
    with store_database(scan_store(built.root)) as db:
        figures = campaign_figures(db)
        campaigns = dict(db.con.sql("SELECT run_id, campaign_id FROM runs").fetchall())
    assert campaigns == {ids[0]: "camp-9"}  # run.json names no campaign; the index does
    assert figures.summary["captures_without_export"] == sorted(
        str(p.relative_to(built.root)) for rid, p in built.captures.items() if rid != ids[0])
    missing = figures.missing_runs
    assert list(missing["run_id"]) == ["run-lost"] and list(missing["error"]) == ["worker died mid-run"]
    assert figures.summary["campaign_ids"] == ["camp-9"]
    (built.root / "campaign.json").write_text("{not json")
    with store_database(scan_store(built.root)) as db:
        figures = campaign_figures(db)
    assert any("campaign.json" in w for w in figures.warnings) and figures.missing_runs.empty


def test_an_empty_store_has_empty_figures(tmp_path):
    (tmp_path / "empty").mkdir()
    with store_database(scan_store(tmp_path / "empty")) as db:
        figures = campaign_figures(db)
        assert db.con.sql("SELECT count(*) FROM flows").fetchall() == [(0,)]
    assert figures.summary["captures"] == 0 and figures.matrix.empty and figures.firmware_changes.empty
    assert figures.verdicts is None


@pytest.mark.skipif("verdict" not in {f.name for f in fields(Analysis)},
                    reason="issue 22's verdict lines are not in the analysis yet")
def test_verdict_lines_are_aggregated_over_the_runs(store):
    built, figures, singles = store
    key = ["kind", "data_type", "destination", "app", "library", "sdk"]
    runs: Counter = Counter()
    flows: Counter = Counter()
    for analysis in singles.values():
        verdict = analysis.verdict.fillna("")
        for row in verdict.itertuples():
            k = tuple(getattr(row, c) or "" for c in key)
            runs[k] += 1
            flows[k] += row.flows
    got = figures.verdicts.fillna("")
    assert {tuple(r[c] for c in key): r["runs"] for _, r in got.iterrows()} == dict(runs)
    assert {tuple(r[c] for c in key): r["flows"] for _, r in got.iterrows()} == dict(flows)
    contact = got[got["data_type"] == "contact"].iloc[0]
    assert (contact["runs"], contact["handsets"], contact["models"]) == (2, 1, "Vendor V1")
    assert "sync.cloudbridge.example" in contact["example"] and contact["requirements"]


def test_the_runners_index_is_read_and_a_superseded_attempt_left_out(tmp_path):
    """campaign.json as `lab campaign run` writes it (harness.capture.store): a retried run's
    earlier capture is counted nowhere; a run that left no capture is named."""
    from harness.capture.store import RunRecord
    from harness.capture.store import open_store as campaign_store

    built = build_store(tmp_path / "store", campaign=None)
    ids = sorted(built.captures)
    retried, earlier = ids[0], ids[1]  # ids[1] stands for an earlier attempt of ids[0]'s run

    def rel(run_id):
        return built.captures[run_id].relative_to(built.root).as_posix()

    campaign_store(built.root, {"id": "camp-5"}).update([
        RunRecord(key="demo/A/1", profile="demo", handset="A", repetition=1, status="ok", host="host-a",
                  run_id=retried, capture=rel(retried), superseded=[rel(earlier)], attempts=2),
        RunRecord(key="idle/B/1", profile="idle", handset="B", repetition=1, status="failed", host="host-b",
                  error="worker died mid-run"),
    ])
    export_missing(list(built.captures.values()))
    with store_database(scan_store(built.root)) as db:
        figures = campaign_figures(db)
        runs = {r[0]: r[1:] for r in db.con.sql("SELECT run_id, superseded, campaign_id FROM runs").fetchall()}
    assert runs[earlier] == (True, None) and runs[retried] == (False, "camp-5")
    assert sum(s for s, _ in runs.values()) == 1
    assert figures.summary["captures_superseded"] == 1 and figures.summary["captures_reported"] == 5
    counted = [p for rid, p in built.captures.items() if rid != earlier]
    assert figures.handset_countries["flows"].sum() == figures.summary["flows"] == sum(
        len(analyse([p]).flows) for p in counted)
    assert list(figures.missing_runs["key"]) == ["idle/B/1"]
    assert list(figures.missing_runs["error"]) == ["worker died mid-run"]


def test_dns_lookups_are_not_counted_as_flows_to_a_country(tmp_path):
    """A lookup's org and country are the resolver's: like the single-run report's
    countries chart, the campaign's handset x country figures count connections only."""
    from support.raw_capture import FullCaptureBuilder

    root = tmp_path / "store"
    captures = [FullCaptureBuilder(root / f"run-{v}", variant=v, serial=f"R58FULL{i}").vendor_scenario()
                .full_scenario().write() for i, v in enumerate(("vendor-1.0", "vendor-1.1"))]
    export_missing(captures)
    with store_database(scan_store(root)) as db:
        figures = campaign_figures(db)
    for i, capture in enumerate(captures):
        flows = analyse([capture]).flows
        mine = figures.handset_countries[figures.handset_countries["handset"] == f"R58FULL{i}"]
        assert mine["flows"].sum() == (flows["kind"] != "dns").sum() < len(flows)
        assert "unknown" not in set(mine["org_country"])  # the tunnel's resolver, not located
