"""The capture folder, a contract: file names, JSONL writer and reader, atomic JSON,
canaries.json, zone.json, the run.json manifest with its hashes and signature, and
`lab verify`'s checks (integrity)."""

from harness.capture.canaries import Canaries, load_canaries, parse_canaries
from harness.capture.folder import (
    CANARIES_JSON,
    FLOW_FIELDS,
    FLOWS_JSONL,
    FLOWS_MITM,
    FORMAT,
    FORMAT_VERSION,
    HOOK_FIELDS,
    HOOKS_JSONL,
    JOURNAL_JSON,
    REPORT_DIR,
    RUN_JSON,
    ZONE_JSON,
    JsonlStats,
    JsonlWriter,
    iter_jsonl,
    json_line,
    make_private_dir,
    open_private_append,
    read_json,
    write_json_atomic,
)
from harness.capture.integrity import VerifyResult, verify
from harness.capture.manifest import generate_signing_key, read_manifest, write_manifest
from harness.capture.zone import Zone, parse_zone, parse_zone_data

__all__ = [
    "CANARIES_JSON", "FLOWS_JSONL", "FLOWS_MITM", "FLOW_FIELDS", "FORMAT", "FORMAT_VERSION",
    "HOOKS_JSONL", "HOOK_FIELDS", "JOURNAL_JSON", "REPORT_DIR", "RUN_JSON", "Canaries",
    "JsonlStats", "JsonlWriter", "Zone", "generate_signing_key", "iter_jsonl", "json_line",
    "load_canaries", "make_private_dir", "open_private_append", "parse_canaries",
    "parse_zone", "parse_zone_data", "read_json", "read_manifest", "verify", "VerifyResult",
    "write_json_atomic", "write_manifest", "ZONE_JSON",
]
