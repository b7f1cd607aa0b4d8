"""Baseline vs new capture: matched destinations and data types, the regression policy's
verdicts and exit codes, rendered as JUnit XML, Markdown, JSON or HTML."""

from harness.diff.compare import Change, DiffResult, diff_captures
from harness.diff.render import RENDERERS, diff_markdown, junit_xml

__all__ = ["RENDERERS", "Change", "DiffResult", "diff_captures", "diff_markdown", "junit_xml"]
