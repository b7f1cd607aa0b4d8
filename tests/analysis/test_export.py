"""A capture's Parquet export: its tables and columns, masking, and that it stays outside
the manifest (issue 23)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pyarrow.parquet as pq
from click.testing import CliRunner
from support.capture_builder import IMEI, CaptureBuilder, _geo, build_capture
from support.store_builder import ACME, VENDOR_10, HandsetCapture

from harness.analysis import analyse
from harness.analysis.export import (
    EXPORT_ERROR,
    export_after_run,
    export_capture,
    export_path,
    has_export,
)
from harness.analysis.export_schema import STORE_ONLY, TABLES, schema_text, sql_type
from harness.analysis.masked_texts import masked_texts
from harness.capture import verify
from harness.cli.main import main

T0 = 1_790_000_000.0


def _capture(tmp_path, handset=ACME, name="run-acme"):
    builder = HandsetCapture(tmp_path / name, handset, "demo", t0=T0, campaign="camp-7")
    return builder.vendor_scenario().write()


def test_every_table_has_its_documented_columns_and_types(tmp_path):
    folder = export_capture(_capture(tmp_path))
    names = {p.name for p in folder.iterdir()}
    assert {t.file for t in TABLES.values() if not t.optional} <= names <= {t.file for t in TABLES.values()}
    for table in (t for t in TABLES.values() if t.file in names):
        schema = pq.read_schema(folder / table.file)
        documented = [c for c in table.columns if c.name not in STORE_ONLY.get(table.name, ())]
        assert schema.names == [c.name for c in documented], table.name
        assert [schema.field(c.name).type for c in documented] == [c.type for c in documented], table.name
        assert all(c.doc for c in table.columns)
    text = schema_text()
    for table in TABLES.values():
        assert f"{table.name}: {table.doc}" in text
        for c in table.columns:
            assert f"{c.name}" in text and sql_type(c.type) in text


def test_the_run_table_names_the_handset_firmware_and_campaign(tmp_path):
    capture = _capture(tmp_path)
    analysis = analyse([capture])
    folder = export_capture(capture)
    (run,) = pq.read_table(folder / "runs.parquet").to_pylist()
    assert {k: run[k] for k in ("run_id", "campaign_id", "status", "profile", "manufacturer", "brand", "model",
                                "firmware", "build_id", "incremental", "android_release", "sdk",
                                "security_patch")} == {
        "run_id": "run-acme", "campaign_id": "camp-7", "status": "ok", "profile": "demo",
        "manufacturer": "Acme", "brand": "acme", "model": "X2", "firmware": ACME.fingerprint,
        "build_id": "UP1A.231005", "incremental": "200", "android_release": "14", "sdk": 33,
        "security_patch": "2026-02-01"}
    # the Acme phone's adb serial is its hardware serial, an identifier: masked like a report masks it
    assert run["serial"] == run["handset"] == "AC****Z9"
    assert run["started"] == datetime.fromtimestamp(T0, UTC) and run["duration_s"] == 120.0
    counts = analysis.summary["counts"]
    assert (run["flows"], run["findings"], run["reads"], run["destinations"]) == (
        counts["flows"], counts["findings"], counts["sensitive_reads"], counts["destinations"])
    for name, frame in (("flows", analysis.flows), ("findings", analysis.findings), ("reads", analysis.reads),
                        ("destinations", analysis.destinations)):
        assert pq.read_metadata(folder / f"{name}.parquet").num_rows == len(frame), name
    flows = pq.read_table(folder / "flows.parquet").to_pylist()
    telemetry = [f for f in flows if f["destination"] == "telemetry.vendor-cloud.example"]
    assert telemetry and all(f["org_country"] == "CN" and "watchlist_country" in f["flags"] for f in telemetry)
    labelled = export_capture(_capture(tmp_path, VENDOR_10, "run-v1"))
    (run,) = pq.read_table(labelled / "runs.parquet").to_pylist()
    assert (run["handset"], run["serial"]) == ("V1 bench phone A", VENDOR_10.serial)  # lab.yaml's label


def _forms(value: str) -> list[str]:
    raw = value.encode()
    return [value, quote(value, safe=""), base64.b64encode(raw).decode(), raw.hex(),
            *(hashlib.new(a, raw).hexdigest() for a in ("md5", "sha1", "sha256"))]


def test_no_identifier_in_any_form_reaches_the_export(tmp_path):
    """Identifiers in URLs, hosts and notes in every encoding, an adb serial that is the
    hardware serial, reads of canaries and of a value no canary names: none survives."""
    builder = HandsetCapture(tmp_path / "leaky", ACME, "demo", t0=T0, campaign=None).vendor_scenario()
    canaries = builder.canaries()
    identifiers = canaries["identifiers"]
    for i, (kind, value) in enumerate(identifiers.items()):
        query = "&".join(f"v{n}={form}" for n, form in enumerate(_forms(value)))
        builder.flow(f"{hashlib.md5(value.encode()).hexdigest()[:12]}.tracker.example", at=40 + i,
                     server_ip="198.51.100.60", geo=_geo("US", "Tracker Inc", "US"), method="GET",
                     path=f"/t?{query}", flags=["foreign"], notes=[f"decoded {value}"],
                     findings=[{"type": kind, "id": kind, "where": "url", "encoding": "plain", "offset": 3}])
        builder.read("com.vendor.weather", "android.os.Build.getSerial", kind, value, ["com.x.Y.z(Y.java:1)"],
                     at=39 + i)
    builder.read("com.vendor.weather", "android.location.LocationManager.getLastKnownLocation", "location",
                 "28.613900,77.209000", ["com.x.Y.z(Y.java:1)"], at=60)
    capture = builder.write()
    folder = export_capture(capture)
    text = "\n".join(json.dumps(pq.read_table(folder / t.file).to_pylist(), default=str)
                     for t in TABLES.values()).lower()
    secrets = masked_texts([canaries]) + ["28.613900,77.209000"]
    assert IMEI in secrets and ACME.serial in secrets
    leaked = [s for s in secrets if s.lower() in text]
    assert not leaked
    reads = pq.read_table(folder / "reads.parquet").to_pylist()
    imei_reads = [r for r in reads if r["canary_id"] == "imei"]
    assert {r["value"] for r in imei_reads} == {IMEI[:2] + "****" + IMEI[-2:]}
    # equal values share a value_ref (here two reads of the IMEI), different ones do not
    assert len({r["value_ref"] for r in imei_reads}) == 1
    assert len({r["value_ref"] for r in reads}) == len(identifiers) + 1
    flows = pq.read_table(folder / "flows.parquet").to_pylist()
    assert sum("****" in (f["url"] or "") for f in flows) >= len(identifiers)


def test_the_export_stays_outside_the_manifest(tmp_path):
    capture = _capture(tmp_path)
    manifest = (capture / "run.json").read_bytes()
    folder = export_capture(capture)
    assert folder == export_path(capture) == capture / "report" / "export"
    result = verify(capture)
    assert result.ok, result.problems()
    assert result.not_covered == sorted(f"report/export/{t.file}" for t in TABLES.values())
    assert (capture / "run.json").read_bytes() == manifest
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())
    assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]  # no building folder left


def test_an_incomplete_export_is_missing_and_replaced_whole(tmp_path):
    capture = _capture(tmp_path)
    folder = export_capture(capture)
    (folder / "reads.parquet").unlink()
    (folder / "stray.txt").write_text("left by hand")
    assert not has_export(capture)
    export_capture(capture)
    assert has_export(capture) and not (folder / "stray.txt").exists()


def test_a_failed_export_after_a_run_is_recorded_never_raised(tmp_path):
    capture = build_capture(tmp_path / "run")
    run = json.loads((capture / "run.json").read_text())
    (capture / "run.json").write_text(json.dumps({**run, "format_version": 99}))  # unreadable by this harness
    reason = export_after_run(capture)
    assert reason is not None and "format_version 99" in reason
    assert "format_version 99" in (capture / EXPORT_ERROR).read_text()
    assert (capture / EXPORT_ERROR).stat().st_mode & 0o777 == 0o600
    assert not has_export(capture)
    (capture / "run.json").write_text(json.dumps(run))
    assert export_after_run(capture) is None
    assert has_export(capture) and not (capture / EXPORT_ERROR).exists()


def test_lab_report_writes_the_export_when_missing_and_keeps_an_existing_one(tmp_path):
    capture = build_capture(tmp_path / "run")
    result = CliRunner().invoke(main, ["report", str(capture), "--format", "json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert has_export(capture)
    before = {p.name: p.stat().st_mtime_ns for p in export_path(capture).iterdir()}
    result = CliRunner().invoke(main, ["report", str(capture), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {p.name: p.stat().st_mtime_ns for p in export_path(capture).iterdir()} == before


def test_the_export_of_a_capture_without_findings_or_reads_has_empty_tables(tmp_path):
    builder = CaptureBuilder(tmp_path / "quiet")
    builder.flow("cdn.example", at=1, server_ip="198.51.100.9", geo=_geo("US", "CDN", "US"), flags=["foreign"])
    folder = export_capture(builder.write())
    assert pq.read_metadata(folder / "findings.parquet").num_rows == 0
    assert pq.read_metadata(folder / "reads.parquet").num_rows == 0
    (flow,) = pq.read_table(folder / "flows.parquet").to_pylist()
    assert flow["flags"] == ["foreign"] and flow["n_findings"] == 0


def test_a_campaign_runs_placement_is_in_the_run_table(tmp_path):
    """run.json as a campaign's task writes it: `campaign` {id, run key} and `host` {name, worker}."""
    builder = CaptureBuilder(tmp_path / "placed").vendor_scenario()
    run = {**builder.run_json(), "campaign": {"id": "camp-3", "run": "demo/virtual:vendor-1.0/2"},
           "host": {"name": "lab-pc-7", "worker": "bench-east"}}
    (row,) = pq.read_table(export_capture(builder.write(run_json=run)) / "runs.parquet").to_pylist()
    assert (row["campaign_id"], row["run_key"], row["host"]) == ("camp-3", "demo/virtual:vendor-1.0/2", "bench-east")


def _full_store(root):
    """Two full-device captures (vendor-1.1 looks up a watch-list partner it never contacts)
    and an older capture whose export predates the full-capture columns and tables."""
    from support.raw_capture import FullCaptureBuilder

    runs = {}
    for variant, serial in (("vendor-1.0", "R58FULL010"), ("vendor-1.1", "R58FULL011")):
        builder = FullCaptureBuilder(root / f"run-{variant}", variant=variant, serial=serial, t0=T0)
        runs[variant] = export_capture(builder.vendor_scenario().full_scenario().write()).parent.parent
    old = export_capture(CaptureBuilder(root / "run-old", run_id="run-old", serial="R58OLD0001").vendor_scenario().write())
    for table in ("kind_coverage", "dns_only", "tunnel_leaks"):
        (old / TABLES[table].file).unlink()
    legacy = pq.read_table(old / "destinations.parquet").drop_columns(["protocols", "sni", "dns_names"])
    pq.write_table(legacy, old / "destinations.parquet")
    return runs


def test_the_store_answers_which_handsets_look_up_watch_list_names(tmp_path):
    from support.raw_capture import PARTNER_HOST, PUSH_HOST

    from harness.analysis.store import scan_store
    from harness.analysis.store_db import read_only_query, store_database

    _full_store(tmp_path / "store")
    with store_database(scan_store(tmp_path / "store"), sandbox=True) as db:
        def rows(sql):
            return read_only_query(db, sql).read_all().to_pylist()

        assert db.files["dns_only"] == db.files["kind_coverage"] == 2 and len(db.exported) == 3
        watched = rows("SELECT r.handset, d.name, d.lookups, d.country FROM dns_only d JOIN runs r USING (run_id) "
                       "WHERE list_contains(d.flags, 'watchlist_country') ORDER BY ALL")
        assert watched == [{"handset": "R58FULL011", "name": PARTNER_HOST, "lookups": 3, "country": "CN"}]
        push = rows(f"SELECT run_id, protocols, dns_names FROM destinations WHERE destination = '{PUSH_HOST}' "
                    "ORDER BY run_id")
        assert [r["protocols"] for r in push] == [["tcp/xmpp"], ["tcp/xmpp"]]
        assert all(PUSH_HOST in r["dns_names"] for r in push)
        kinds = rows("SELECT run_id, flows, bytes_up FROM kind_coverage WHERE app = '(all)' AND kind = 'tcp' "
                     "ORDER BY run_id")
        assert [(r["flows"], r["bytes_up"]) for r in kinds] == [(1, 180), (1, 180)]
        # the older export: its destinations read with null protocols, and no rows of the new tables
        old = rows("SELECT count(*) AS n, count(protocols) AS with_protocols FROM destinations "
                   "WHERE run_id = 'run-old'")
        assert old[0]["n"] > 0 and old[0]["with_protocols"] == 0
        assert rows("SELECT count(*) AS n FROM tunnel_leaks")[0]["n"] == 0
    with store_database(scan_store(tmp_path / "store" / "run-old"), sandbox=True) as db:  # only older exports
        old = read_only_query(db, "SELECT count(*) AS n, count(protocols) AS p FROM destinations").read_all()
        assert old.to_pylist()[0]["n"] > 0 and old.to_pylist()[0]["p"] == 0
