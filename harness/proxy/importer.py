"""`lab import`: a capture folder from flows recorded elsewhere (mitmproxy .mitm or HAR).

The flows go through the same addons as live traffic (destinations, sensitive, flowlog),
driven by mitmproxy's own event sequence, so an imported capture is classified and
scanned exactly like a recorded one. A garbled .mitm file keeps every flow read before
the damage, a HAR every entry but those unreadable or nested too deeply (harness.proxy.har);
the manifest (status "imported") says what was skipped.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mitmproxy import exceptions, io, master, options
from mitmproxy import flow as mflow

from addons.destinations import Destinations
from addons.flowlog import FlowLog
from addons.sensitive import Sensitive
from harness import __version__
from harness.capture import CANARIES_JSON, FLOWS_JSONL, FLOWS_MITM, write_manifest
from harness.config import LabConfig
from harness.errors import CaptureError
from harness.proxy.har import read_har

KEEP_AUDIT = ("kind", "tls_failure", "world_ip", "world_port", "contained", "app", "attribution", "device")


@dataclass
class ImportResult:
    out: Path
    source_format: str
    flows: int = 0
    findings: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "format": self.source_format, "flows": self.flows,
                "findings": self.findings, "skipped": self.skipped}


def detect_format(source: Path) -> str:
    try:
        with source.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as e:
        raise CaptureError(f"{source}: cannot read ({e.strerror or e})") from e
    if head.startswith(b"{"):
        return "har"
    if head[:1].isdigit():  # tnetstring: length prefix
        return "mitm"
    raise CaptureError(f"{source}: neither a mitmproxy flow file nor a HAR (starts with {head[:8]!r})")


def read_mitm(source: Path, skipped: list[str]) -> Iterator[mflow.Flow]:
    """The flows of a mitmproxy flow file; reading stops at the first garbled record.

    A record nested too deeply for mitmproxy's (recursive) reader is skipped and named by
    its byte offset: its length prefix was read with it, so the next record follows.
    """
    count = 0
    with source.open("rb") as fh:
        while True:
            start = fh.tell()
            try:
                for flow in io.FlowReader(fh).stream():
                    count += 1
                    flow.live = False
                    yield flow
                    start = fh.tell()
                return
            except exceptions.FlowReadException as e:
                skipped.append(f"flow file garbled after {count} flows: {e}; the rest is skipped")
                return
            except (AttributeError, KeyError) as e:  # a record that is no flow (mitmproxy's
                skipped.append(                        # reader lets these errors through)
                    f"flow file garbled after {count} flows: a record that is not a flow "
                    f"({type(e).__name__}: {e}); the rest is skipped")
                return
            except RecursionError:
                if fh.tell() == start:
                    skipped.append(f"flow file garbled after {count} flows (byte {start}): "
                                   "nested too deeply; the rest is skipped")
                    return
                skipped.append(f"flow file record at byte {start}: nested too deeply; skipped")


def _prepare(flow: mflow.Flow) -> None:
    """Drop verdicts recorded elsewhere (they are recomputed), keep facts about the flow."""
    old = flow.metadata.get("audit")
    kept = {k: v for k, v in old.items() if k in KEEP_AUDIT} if isinstance(old, dict) else {}
    flow.metadata["audit"] = kept


def _lab_options(lab: LabConfig | None, canaries: Path | None, out: Path, device: str | None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "audit_canaries": str(canaries) if canaries else "",
        "audit_capture_dir": str(out),
        "audit_device": device or "",
    }
    if lab is not None:
        opts.update(
            audit_jurisdiction=lab.jurisdiction,
            audit_allowed_countries=list(lab.policy.allowed_countries),
            audit_watchlist=list(lab.policy.watchlist_countries),
            audit_allowed_domains=list(lab.policy.allowed_domains),
            audit_geo_sources=list(lab.geo.sources),
            audit_geo_overrides=[f"{o.cidr}={o.country}:{o.org or ''}:{o.org_country or ''}" for o in lab.geo.overrides],
            audit_geo_mmdb=str(lab.geo.mmdb) if lab.geo.mmdb else "",
            audit_max_body_bytes=lab.proxy.max_body_bytes,
        )
    return opts


async def _run(flows: Iterator[mflow.Flow], opts: dict[str, Any], result: ImportResult) -> int:
    """Feed the flows through the addons; the number of flows read from the source."""
    def on_record(record: dict[str, Any]) -> None:
        result.flows += 1
        result.findings += len(record.get("findings") or ())

    flowlog = FlowLog(on_record=on_record)
    runner = master.Master(options.Options())
    runner.addons.add(Destinations(), Sensitive(), flowlog)
    try:
        runner.options.update(**opts)
    except exceptions.OptionsError as e:
        raise CaptureError(f"cannot import: {e}") from e
    read = 0
    try:
        for flow in flows:
            read += 1
            _prepare(flow)
            await runner.load_flow(flow)
    finally:
        flowlog.close()
    return read


def import_capture(
    source: Path,
    out: Path,
    lab: LabConfig | None = None,
    *,
    canaries: Path | None = None,
    device: str | None = None,
) -> ImportResult:
    """Build a capture folder at `out` (absent or an empty folder) from `source`.

    All or nothing: the folder is built under a temporary name next to `out` and renamed
    into place once run.json is written; on any failure (a source with no readable flow
    included) nothing is left behind, so the same import can simply be run again.
    """
    if not source.is_file():
        raise CaptureError(f"{source}: no such file")
    fmt = detect_format(source)
    _check_target(out)
    if canaries is not None and not canaries.is_file():
        raise CaptureError(f"{canaries}: no such canaries file")
    created = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    except OSError as e:
        raise CaptureError(f"{out}: cannot create ({e.strerror or e})") from e
    try:
        result = _build(source, fmt, work, out.name, lab, canaries, device)
        try:
            work.rename(out)  # replaces an empty folder, fails on one that is not
        except OSError as e:
            raise CaptureError(
                f"{out}: cannot move the import into place ({e.strerror or e})") from e
    except BaseException:
        # best effort: a folder that cannot be removed must not hide why the import failed
        shutil.rmtree(work, ignore_errors=True)
        for folder in created:  # nearest first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    result.out = out
    return result


def _check_target(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise CaptureError(f"{out}: exists and is not a folder")
    if (out / FLOWS_JSONL).exists() or (out / FLOWS_MITM).exists():
        raise CaptureError(f"{out}: already holds flows; import into a new folder")
    if any(out.iterdir()):
        raise CaptureError(f"{out}: not empty; import into a new or empty folder")


def _build(source: Path, fmt: str, work: Path, run_id: str, lab: LabConfig | None,
           canaries: Path | None, device: str | None) -> ImportResult:
    """The capture folder's content, written into `work`."""
    if canaries is not None:
        shutil.copyfile(canaries, work / CANARIES_JSON)
    result = ImportResult(work, fmt)
    started = time.time()
    skipped: list[str] = result.skipped
    flows = read_har(source, skipped) if fmt == "har" else read_mitm(source, skipped)
    read = asyncio.run(_run(flows, _lab_options(lab, canaries, work, device), result))
    if not read:
        why = f": {'; '.join(skipped)}" if skipped else ""
        raise CaptureError(f"{source}: no readable flow in this {fmt} file{why}")
    from mitmproxy.version import VERSION as MITMPROXY

    manifest = {
        "run_id": run_id,
        "status": "imported",
        "source": {"path": str(source), "format": fmt, "skipped": skipped},
        "started": started,
        "ended": time.time(),
        "lab": lab.model_dump(mode="json") if lab is not None else None,
        "device": {"serial": device} if device else None,
        "tools": {"harness": __version__, "mitmproxy": MITMPROXY},
        "counts": {"flows": result.flows, "findings": result.findings, "skipped": len(skipped)},
        "canaries": CANARIES_JSON if canaries is not None else None,
    }
    write_manifest(work, manifest, lab.signing_key if lab is not None else None)
    return result
