"""`lab diff` renderings: Markdown a terminal prints as written."""

from __future__ import annotations

from support.capture_builder import CaptureBuilder

from harness.diff.compare import Change, DiffResult, diff_captures
from harness.diff.render import diff_markdown


def test_markdown_prints_arrows_not_html_entities(tmp_path):
    base = CaptureBuilder(tmp_path / "base").vendor_scenario().write()
    new = CaptureBuilder(tmp_path / "new", variant="vendor-1.1").vendor_scenario().write()
    text = diff_markdown(diff_captures([base], [new]))
    assert "security_patch: 2026-01-05 -> 2026-03-05" in text
    assert "&gt;" not in text and "&lt;" not in text and "&amp;" not in text


def test_markdown_keeps_hostile_names_inert():
    change = Change("new_destination", ("<img src=x onerror=alert(1)>",), "x",
                    "<script>alert(1)</script> -> [link](https://evil.example)", "rule")
    text = diff_markdown(DiffResult(baseline=["a"], new=["b"], changes=[change], components=[]))
    assert "<img" not in text and "<script" not in text and "](" not in text.replace("\\](", "")
    assert "-> " in text
