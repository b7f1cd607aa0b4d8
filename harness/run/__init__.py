"""The orchestrator: a profile on one or more handsets -> one capture folder each.
A session per handset (device, proxy, journal, Frida), its steps, the timeline, and
progress drawn with rich; several handsets run in child processes. Campaigns
(campaign.py) place many such runs across hosts with Dask distributed (placement.py)."""

from harness.run.one_handset import RunResult, RunStatus
from harness.run.orchestrator import run_profile
from harness.run.timeline import StepStatus

__all__ = ["RunResult", "RunStatus", "StepStatus", "run_profile"]
