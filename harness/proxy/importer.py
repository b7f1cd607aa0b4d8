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
from harness.capture import CANARIES_JSON, FLOWS_JSONL, FLOWS_MITM, make_private_dir, write_manifest
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


async def _run(flows: Iterator[mflow.Flow], opts: dict[str, Any], result: ImportResult) -> None:
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
    try:
        for flow in flows:
            _prepare(flow)
            await runner.load_flow(flow)
    finally:
        flowlog.close()


def import_capture(
    source: Path,
    out: Path,
    lab: LabConfig | None = None,
    *,
    canaries: Path | None = None,
    device: str | None = None,
) -> ImportResult:
    """Build a capture folder at `out` (which must not hold flows yet) from `source`."""
    if not source.is_file():
        raise CaptureError(f"{source}: no such file")
    fmt = detect_format(source)
    if (out / FLOWS_JSONL).exists() or (out / FLOWS_MITM).exists():
        raise CaptureError(f"{out}: already holds flows; import into a new folder")
    make_private_dir(out)
    if canaries is not None:
        if not canaries.is_file():
            raise CaptureError(f"{canaries}: no such canaries file")
        shutil.copyfile(canaries, out / CANARIES_JSON)
    result = ImportResult(out, fmt)
    started = time.time()
    skipped: list[str] = result.skipped
    flows = read_har(source, skipped) if fmt == "har" else read_mitm(source, skipped)
    asyncio.run(_run(flows, _lab_options(lab, canaries, out, device), result))
    from mitmproxy.version import VERSION as MITMPROXY

    manifest = {
        "run_id": out.name,
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
    write_manifest(out, manifest, lab.signing_key if lab is not None else None)
    return result
