"""What analysing captures yields: one frame per table, the summary, and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Analysis:
    flows: pd.DataFrame
    hooks: pd.DataFrame
    reads: pd.DataFrame
    findings: pd.DataFrame
    data_flows: pd.DataFrame
    destinations: pd.DataFrame
    bypassed: pd.DataFrame
    countries: pd.DataFrame
    orgs: pd.DataFrame
    steps: pd.DataFrame
    runs: list[dict[str, Any]]
    summary: dict[str, Any]
    canary_values: list[str] = field(default_factory=list)  # every form and encoding: masked_texts.py
    warnings: list[str] = field(default_factory=list)
    # the auditor's reading (issue 22): verdict lines, per phase, timers, coverage per app,
    # SDKs, requirements (verdict.py, phases.py, periodicity.py, coverage.py, trackers.py,
    # standards.py)
    verdict: pd.DataFrame = field(default_factory=pd.DataFrame)
    phases: pd.DataFrame = field(default_factory=pd.DataFrame)
    recurring: pd.DataFrame = field(default_factory=pd.DataFrame)
    app_coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    sdks: pd.DataFrame = field(default_factory=pd.DataFrame)
    requirements: pd.DataFrame = field(default_factory=pd.DataFrame)
    # full-device capture (issue 20): flows and bytes per kind of traffic (flow_kinds.py),
    # names seen only through DNS (dns_lookups.py)
    kind_coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    dns_only: pd.DataFrame = field(default_factory=pd.DataFrame)
    # WireGuard mode: connects Frida saw that the proxy did not (tunnel_leaks.py), and the
    # cross-check itself ({runs, connections, leaks}; None when no run was in WireGuard mode)
    tunnel_leaks: pd.DataFrame = field(default_factory=pd.DataFrame)
    tunnel_check: dict[str, Any] | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tabular outputs by name (what CSV, XLSX and Parquet write)."""
        return {
            "destinations": self.destinations, "data_flows": self.data_flows,
            "bypassed": self.bypassed, "countries": self.countries, "orgs": self.orgs,
            "flows": self.flows, "findings": self.findings, "reads": self.reads_public(),
            "steps": self.steps, "verdict": self.verdict, "phases": self.phases,
            "recurring": self.recurring, "app_coverage": self.app_coverage, "sdks": self.sdks,
            "requirements": self.requirements, "kind_coverage": self.kind_coverage, "dns_only": self.dns_only,
            "tunnel_leaks": self.tunnel_leaks,
        }

    def reads_public(self) -> pd.DataFrame:
        cols = ["run_id", "hook_id", "ts", "device", "package", "pid", "api", "category", "data_type",
                "canary_id", "value", "library", "sdk", "frame", "phase"]
        reads = self.reads.reindex(columns=cols)
        return reads
