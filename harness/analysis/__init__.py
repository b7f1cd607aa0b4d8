"""Captures -> pandas frames: flows, hooks, reads, findings, data flows, destinations,
attribution of each flow to an app, and the report summary. Reads only the capture
folder, so an imported capture is analysed like a recorded one.

    analysis = analyse([run_dir, ...], policy)
"""

from harness.analysis.frames import analyse
from harness.analysis.model import Analysis

__all__ = ["Analysis", "analyse"]
