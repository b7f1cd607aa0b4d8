"""A capture's Parquet export: its analysed, attributed flows, findings, reads and
destinations, its verdict lines, coverage by kind, names seen only through DNS and
tunnel leaks, and a one-row run table, masked (export_schema.py says what each holds).

Written at the end of each run, by `lab report` when a capture has none, and by
`lab campaign report` for the captures of a store that have none. It goes to
`report/export/` inside the capture: the manifest covers no file under report/ (they are
written after it), so the export never changes what `lab verify` checks, and a capture
can always be exported again. The folder is built beside it and renamed into place, so
an export is whole or absent.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness.analysis.export_schema import EXPORT_FORMAT_VERSION, TABLES, Table, file_schema
from harness.analysis.frames import analyse
from harness.analysis.masking import Masker, mask_whole
from harness.analysis.model import Analysis
from harness.analysis.read import check_manifest
from harness.capture import REPORT_DIR
from harness.capture.contents import kind_of
from harness.config import Policy
from harness.errors import CaptureError, HarnessError

log = logging.getLogger(__name__)

EXPORT_DIR = f"{REPORT_DIR}/export"
EXPORT_ERROR = f"{REPORT_DIR}/export-error.txt"  # why the export at the end of a run failed
ISO_FORMAT = "%Y-%m-%d %H:%M:%S UTC"  # analysis.summary.iso


@dataclass
class ExportOutcome:
    """What exporting some captures did: folders written, and why others were not."""

    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "capture: reason", one line each


def export_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / EXPORT_DIR


def has_export(run_dir: Path | str) -> bool:
    """Every table's file is there (a plain file, not a link); optional ones may be absent."""
    folder = export_path(run_dir)
    return all(kind_of(folder / t.file) == "file" for t in TABLES.values() if not t.optional)


# --- frames -> Arrow ----------------------------------------------------------------------


def _strings(series: pd.Series) -> pa.Array:
    try:  # a string column (pandas' pyarrow-backed str, or objects that are all text or missing)
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python objects: each as text
        values = series.astype(object)
        values = values.where(values.notna(), None).map(lambda v: v if v is None or isinstance(v, str) else str(v))
        return pa.array(values, type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type) or pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    return pc.cast(arr, pa.string())  # numbers, booleans: their text


def _column(series: pd.Series | None, typ: pa.DataType, rows: int) -> pa.Array:
    if series is None:
        return pa.nulls(rows, typ)
    if pa.types.is_timestamp(typ):  # epoch seconds -> microseconds
        micros = (pd.to_numeric(series, errors="coerce") * 1e6).round().astype("Int64")
        return pa.array(micros, type=pa.int64(), from_pandas=True).cast(typ)
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        numbers = pd.to_numeric(series, errors="coerce")
        return pa.array(numbers.astype("Int64") if pa.types.is_integer(typ) else numbers, type=typ, from_pandas=True)
    if pa.types.is_boolean(typ):
        return pa.array(series.astype(object).where(series.notna(), None), type=typ)
    if pa.types.is_list(typ):  # "a, b" or "a,b" -> ["a", "b"]; empty -> []
        text = pc.fill_null(_strings(series), "")
        parts = pc.split_pattern_regex(pc.utf8_trim_whitespace(text), r"\s*,\s*")
        return pc.if_else(pc.equal(text, ""), pa.scalar([], typ), parts)
    return _strings(series)


def to_arrow(df: pd.DataFrame, table: Table) -> pa.Table:
    """A frame as the table's file schema: missing columns are nulls, extra ones dropped."""
    schema = file_schema(table)
    rows = len(df)
    arrays = [_column(df[f.name] if f.name in df.columns else None, f.type, rows) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


# --- the tables ---------------------------------------------------------------------------


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _fingerprint_part(fingerprint: str, index: int) -> str | None:
    """brand/product/device:release/BUILD_ID/INCREMENTAL:type/tags -> BUILD_ID (1) or INCREMENTAL (2)."""
    parts = fingerprint.split(":")
    if len(parts) < 2:
        return None
    fields = parts[1].split("/")
    return fields[index] if len(fields) > index and fields[index] else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _campaign(run: dict[str, Any]) -> tuple[str | None, str | None]:
    """(campaign id, run key) from run.json's `campaign` ({id, run}, or a bare id)."""
    campaign = run.get("campaign", run.get("campaign_id"))
    if isinstance(campaign, dict):
        return _text(campaign.get("id") or campaign.get("campaign_id") or campaign.get("name")), _text(campaign.get("run"))
    return _text(campaign), None


def _host(run: dict[str, Any]) -> str | None:
    """Where the run ran: run.json's `host` ({name, worker}): the worker's name when it has one."""
    host = run.get("host")
    if isinstance(host, dict):
        return _text(host.get("worker")) or _text(host.get("name"))
    return _text(host)


def _label(run: dict[str, Any], serials: tuple[Any, ...]) -> str | None:
    """The lab's label for the handset (lab.yaml devices, as the run's lab snapshot has it)."""
    lab = run.get("lab") if isinstance(run.get("lab"), dict) else {}
    for entry in lab.get("devices") or []:
        if isinstance(entry, dict) and entry.get("serial") in serials and entry.get("label"):
            return str(entry["label"])
    return None


def run_row(analysis: Analysis, run: dict[str, Any], masker: Masker) -> dict[str, Any]:
    info = analysis.runs[0]
    device = info.get("device") or {}
    serial = device.get("serial")
    requested = run.get("requested_device")
    fingerprint = str(device.get("fingerprint") or "")
    lab = run.get("lab") if isinstance(run.get("lab"), dict) else {}
    tools = run.get("tools") if isinstance(run.get("tools"), dict) else {}
    counts = analysis.summary.get("counts", {})
    label = _label(run, (serial, requested))
    campaign_id, run_key = _campaign(run)
    return {
        "run_id": info["run_id"], "campaign_id": campaign_id, "run_key": run_key, "host": _host(run),
        "status": info.get("status"),
        "profile": info.get("profile") or None,
        "handset": masker.text(label or requested or serial),
        "serial": masker.text(serial),
        "manufacturer": device.get("manufacturer"), "brand": device.get("brand"), "model": device.get("model"),
        "firmware": fingerprint or None,
        "build_id": device.get("build_id") or _fingerprint_part(fingerprint, 1),
        "incremental": device.get("incremental") or _fingerprint_part(fingerprint, 2),
        "android_release": device.get("android_release") or device.get("release"),
        "sdk": device.get("sdk"), "security_patch": device.get("security_patch"),
        "started": _epoch(info.get("started")), "ended": _epoch(info.get("ended")),
        "duration_s": info.get("duration_s"),
        "flows": counts.get("flows"), "findings": counts.get("findings"),
        "reads": counts.get("sensitive_reads"), "destinations": counts.get("destinations"),
        "foreign_destinations": counts.get("foreign_destinations"),
        "bytes_up": counts.get("bytes_up"), "bytes_down": counts.get("bytes_down"),
        "lab": lab.get("name"), "jurisdiction": lab.get("jurisdiction"),
        "harness_version": tools.get("harness"), "export_version": EXPORT_FORMAT_VERSION,
    }


def _reads(reads: pd.DataFrame) -> pd.DataFrame:
    """Reads with their value masked whole, and `value_ref`: equal values numbered 1, 2, ...
    in the order they were first read (a read without a value has none)."""
    out = reads.rename(columns={"package": "app"})
    by_time = np.argsort(pd.to_numeric(out["ts"], errors="coerce").to_numpy(dtype=float), kind="stable")
    codes, _ = pd.factorize(out["value"].astype(object).to_numpy()[by_time])  # a missing value is -1
    refs = np.zeros(len(out), dtype="int64")
    refs[by_time] = codes + 1
    value = out["value"].astype(object)
    return out.assign(value=value.where(value.isna(), value.map(mask_whole)),
                      value_ref=pd.Series(refs, index=out.index).where(refs > 0))


def export_tables(analysis: Analysis, run: dict[str, Any]) -> dict[str, pa.Table]:
    """The export of a one-capture analysis, masked, as Arrow tables by name."""
    if len(analysis.runs) != 1:
        raise ValueError(f"an export holds one capture, not {len(analysis.runs)}")
    masker = Masker(analysis.canary_values)
    run_id = analysis.runs[0]["run_id"]
    frames = {
        "runs": pd.DataFrame([run_row(analysis, run, masker)]),
        "flows": analysis.flows,
        "findings": analysis.findings.rename(columns={"ts_start": "ts", "finding_id": "canary_id", "where": "found_in",
                                                       "offset": "found_at"}),
        "reads": _reads(analysis.reads),
        "destinations": analysis.destinations.assign(run_id=run_id),
    }
    verdict = getattr(analysis, "verdict", None)  # issue 22's verdict lines, where the analysis has them
    if isinstance(verdict, pd.DataFrame):
        frames["verdicts"] = verdict.assign(run_id=run_id)
    for name in ("kind_coverage", "dns_only", "tunnel_leaks"):  # full-device capture (issue 20)
        frames[name] = getattr(analysis, name).assign(run_id=run_id)
    return {name: to_arrow(masker.frame(frames[name]), table) for name, table in TABLES.items() if name in frames}


# --- writing --------------------------------------------------------------------------------


def write_export(run_dir: Path, tables: dict[str, pa.Table]) -> Path:
    """Write the tables into report/export/ of the capture, whole or not at all."""
    report = Path(run_dir) / REPORT_DIR
    if kind_of(report) not in ("none", "folder"):
        raise CaptureError(f"{report}: not a folder (a {kind_of(report)}); the export is not written there")
    report.mkdir(mode=0o700, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".export-", dir=report))  # 0700
    try:
        for name, table in tables.items():
            path = building / TABLES[name].file
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
        target = report / "export"
        if kind_of(target) != "none":  # an incomplete or older export: replaced
            old = Path(tempfile.mkdtemp(prefix=".export-old-", dir=report))
            os.replace(target, old / "export")
            _remove(old)
        os.replace(building, target)
    except BaseException:
        _remove(building)
        raise
    return target


def _remove(path: Path) -> None:
    if kind_of(path) == "folder":
        shutil.rmtree(path, ignore_errors=True)
    elif kind_of(path) != "none":
        path.unlink()


def export_analysis(analysis: Analysis, run_dir: Path) -> Path:
    """Write the export of an analysis of the one capture in `run_dir`."""
    return write_export(run_dir, export_tables(analysis, check_manifest(Path(run_dir))))


def export_capture(run_dir: Path | str, policy: Policy | None = None) -> Path:
    """Analyse one capture and write its export; returns the export folder."""
    run_dir = Path(run_dir)
    return export_analysis(analyse([run_dir], policy), run_dir)


def export_missing(run_dirs: list[Path], policy: Policy | None = None,
                   analysis: Analysis | None = None, *, force: bool = False) -> ExportOutcome:
    """Export each capture that has no export yet (every one with `force`). `analysis`,
    when it is of exactly these captures and there is one, is reused. A capture that
    cannot be exported is named in `failed` with the reason (and logged), never raised:
    the export is derived data."""
    outcome = ExportOutcome()
    for run_dir in (Path(p) for p in run_dirs):
        if has_export(run_dir) and not force:
            continue
        try:
            if analysis is not None and len(run_dirs) == 1:
                outcome.written.append(export_analysis(analysis, run_dir))
            else:
                outcome.written.append(export_capture(run_dir, policy))
        except (HarnessError, OSError, pa.ArrowException) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            outcome.failed.append(f"{run_dir}: {reason}")
            log.warning("no Parquet export for %s: %s", run_dir, reason)
    return outcome


def export_after_run(run_dir: Path, policy: Policy | None = None) -> str | None:
    """The export at the end of a run, after run.json: never raises. A failure is logged
    and recorded in report/export-error.txt (outside the manifest, like the export), and
    returned; `lab report` or `lab campaign report` export the capture later."""
    try:
        export_capture(run_dir, policy)
    except Exception as e:  # derived data: nothing here may cost a run its result or its capture
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
        log.warning("no Parquet export for %s: %s", run_dir, reason, exc_info=not isinstance(e, HarnessError))
        try:
            (Path(run_dir) / REPORT_DIR).mkdir(mode=0o700, exist_ok=True)
            fd = os.open(Path(run_dir) / EXPORT_ERROR, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(reason + "\n")
        except OSError as write_error:
            log.warning("cannot record that in %s: %s", EXPORT_ERROR, write_error)
        return reason
    if kind_of(Path(run_dir) / EXPORT_ERROR) == "file":
        (Path(run_dir) / EXPORT_ERROR).unlink()
    return None
