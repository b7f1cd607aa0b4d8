"""Baseline vs new capture: matched destinations and data types, the regression policy's
verdicts and exit codes, rendered as JUnit XML, Markdown, JSON or HTML; the inputs are
verified first (evidence)."""

from harness.diff.compare import Change, DiffResult, capture_dirs, diff_captures
from harness.diff.evidence import Verification, verify_inputs
from harness.diff.render import RENDERERS, diff_markdown, junit_refused, junit_xml

__all__ = ["RENDERERS", "Change", "DiffResult", "Verification", "capture_dirs", "diff_captures",
           "diff_markdown", "junit_refused", "junit_xml", "verify_inputs"]
