"""The orchestrator: a profile on one or more handsets -> one capture folder each.

One handset runs in this process (run/one_handset.py); several run in one child process
each (run/children.py), because mitmproxy keeps its context in module globals.
"""

from __future__ import annotations

from pathlib import Path

from harness.capture import make_private_dir
from harness.config import LabConfig, Profile
from harness.run.children import run_in_children
from harness.run.one_handset import RunResult, run_one
from harness.run.technician import NOBODY, Technician


def run_profile(lab: LabConfig, lab_path: Path, profile: Profile, profile_path: Path,
                serials: list[str], out_root: Path, quiet: bool = False,
                technician: Technician = NOBODY, doctor: bool = True) -> list[RunResult]:
    """Run the profile on every handset concurrently; always returns one result each.

    One handset runs in this process. Several run in one child process each, because
    mitmproxy keeps its context in module globals (one proxy per process); the
    technician is asked only in a single-handset run (children have no terminal). `doctor`:
    lab doctor's quick checks first on each handset (a failure stops that run)."""
    out_root = make_private_dir(out_root)
    if len(serials) == 1:
        return [run_one(lab, lab_path, profile, profile_path, serials[0], out_root, quiet,
                        technician=technician, doctor=doctor)]
    return run_in_children(lab_path, profile, profile_path, serials, out_root, quiet, doctor=doctor)
