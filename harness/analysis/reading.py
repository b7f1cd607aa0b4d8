"""The auditor's reading of an analysis: the SDK behind each flow and read, the run per
phase, the recurring connections, what could not be read per app, the verdict lines and
the requirements they map to (issue 22). Called by `analyse` once the frames exist."""

from __future__ import annotations

from harness.analysis.coverage import app_coverage
from harness.analysis.model import Analysis
from harness.analysis.periodicity import recurring_frame
from harness.analysis.phases import BETWEEN, phase_at, phases_frame
from harness.analysis.standards import RequirementTable, requirements_frame
from harness.analysis.trackers import TrackerIndex, sdk_table
from harness.analysis.unpinning import with_unpinning
from harness.analysis.verdict import verdict_frame
from harness.config import Policy


def add_reading(a: Analysis, policy: Policy, table: RequirementTable, trackers: TrackerIndex | None = None) -> None:
    """Fill the analysis's sdk and phase columns and its reading frames, in place."""
    trackers = trackers or TrackerIndex()
    flows = a.flows
    flows["phase"] = flows["phase"].fillna(BETWEEN) if "phase" in flows else BETWEEN
    flows["sdk"], flows["sdk_match"] = trackers.names(flows["library"], flows["destination"])
    if len(a.reads):
        a.reads["phase"] = phase_at(a.reads["run_id"], a.reads["ts"], a.steps)
        a.reads["sdk"], a.reads["sdk_match"] = trackers.names(a.reads["library"])
    else:
        a.reads = a.reads.assign(phase=None, sdk=None, sdk_match=None)
    findings = a.findings
    if len(findings):
        findings["phase"] = findings["phase"].fillna(BETWEEN)
        findings["sdk"], _ = trackers.names(findings["library"], findings["destination"])
    if len(a.data_flows):
        a.data_flows["sdk"], _ = trackers.names(
            a.data_flows["library"].where(~a.data_flows["library"].isin(("unknown (not hooked)", "unknown"))),
            a.data_flows["host"])
    a.recurring, flows["recurrence"] = recurring_frame(flows, a.bypassed)
    a.phases = phases_frame(flows, findings, a.reads, a.steps)
    a.app_coverage = with_unpinning(app_coverage(flows, a.bypassed), a.hooks, flows)
    a.sdks = sdk_table(flows, a.reads, findings, trackers)
    a.verdict = verdict_frame(data_flows=a.data_flows, reads=a.reads, bypassed=a.bypassed,
                              destinations=a.destinations, flows=flows, app_coverage=a.app_coverage,
                              policy=policy, table=table, trackers=trackers, tunnel_leaks=a.tunnel_leaks)
    a.requirements = requirements_frame(table, a.verdict)
