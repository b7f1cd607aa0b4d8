"""Markdown output: text a terminal shows as it is, nothing a Markdown renderer turns into
HTML or links; a run's header names only what the capture knows."""

from __future__ import annotations

import json
import re

from harness.proxy.importer import import_capture
from harness.report import write_reports
from harness.report.flat import md_cell


def test_md_cell_leaves_arrows_and_comparisons_readable():
    assert md_cell("1 -> 2, a < b, x > y, R&D") == "1 -> 2, a < b, x > y, R&D"
    assert md_cell("a|b `c` [d](e) *f*") == "a\\|b \\`c\\` \\[d\\](e) \\*f\\*"
    assert md_cell("a\\|b") == "a\\\\\\|b"  # a backslash of the value cannot undo the escape


def test_md_cell_keeps_tags_comments_autolinks_and_entities_inert():
    cell = md_cell("<script>x</script> <!-- c --> <https://evil.example> <?pi?> &lt;b&gt; &#60; &#x3c;")
    assert not re.search(r"<[A-Za-z/!?]", cell)  # no tag, comment, autolink, instruction
    assert cell == ("&lt;script>x&lt;/script> &lt;!-- c --> &lt;https://evil.example> &lt;?pi?> "
                    "&amp;lt;b&amp;gt; &amp;#60; &amp;#x3c;")  # entities stay the text they were


def har(path):
    entry = {
        "startedDateTime": "2026-01-02T03:04:05.000Z", "time": 12, "serverIPAddress": "203.0.113.9",
        "request": {"method": "GET", "url": "https://t.example/p", "httpVersion": "HTTP/1.1", "headers": []},
        "response": {"status": 204, "httpVersion": "HTTP/1.1", "headers": [], "content": {"text": ""}},
    }
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry]}}))
    return path


def test_an_imported_run_header_names_only_what_it_knows(tmp_path):
    capture = tmp_path / "imported"
    import_capture(har(tmp_path / "in.har"), capture)
    out = tmp_path / "out"
    write_reports([capture], ["md", "html"], out=out)
    header = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("- Run ")]
    assert len(header) == 1
    line = header[0]
    # when its flows happened (the HAR's startedDateTime), not when it was imported
    assert line == "- Run **imported** (imported), started 2026-01-02 03:04:05 UTC, 0.0 s", line
    assert not re.search(r",\s*,|profile ,|patch ,", line)
    html = (out / "report.html").read_text()
    assert "<dt>Profile</dt><dd></dd>" not in html
