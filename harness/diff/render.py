"""A DiffResult as JUnit XML (one test case per component), Markdown, JSON or HTML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from harness.diff.compare import Change, DiffResult
from harness.diff.evidence import Verification

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: object) -> str:
    """Text XML 1.0 can hold (ElementTree escapes <, >, & and quotes itself)."""
    return _XML_BAD.sub("?", str(text))


def evidence_text(change: Change) -> str:
    """` (evidence: flow A, B)`: the flows a change cites, if it names any."""
    ids = change.data.get("evidence") if isinstance(change.data, dict) else None
    return f" (evidence: flow {', '.join(map(str, ids))})" if ids else ""


def junit_xml(result: DiffResult, suite: str = "lab diff") -> str:
    """JUnit XML: a test suite of a testcase per component (classname `lab.diff`, as CI
    tooling knows them), then a suite of a testcase per requirement of the new side's
    table (classname `lab.diff.requirements`, named by its id); each regression a
    <failure> naming what, where and why. `testsuites` counts both."""
    by_component: dict[str, list[Change]] = defaultdict(list)
    for change in result.changes:
        for component in change.components:
            by_component[component].append(change)
    components = sorted(set(result.components) | set(by_component))
    failures = sum(1 for c in components if any(ch.regression for ch in by_component[c]))
    by_requirement: dict[str, list[Change]] = defaultdict(list)
    for change in result.changes:
        for rid in change.requirements:
            by_requirement[rid].append(change)
    req_failures = sum(1 for r in result.requirements if any(ch.regression for ch in by_requirement[r["id"]]))
    evidence = result.verification
    tests = len(components) + (evidence is not None)
    skipped = int(evidence is not None and not evidence.verified)
    root = ET.Element("testsuites", name=_x(suite), tests=str(tests + len(result.requirements)),
                      failures=str(failures + req_failures), errors="0")
    compared = f"{', '.join(result.baseline)} -> {', '.join(result.new)}"
    ts = ET.SubElement(root, "testsuite", name=_x(f"{suite}: {compared}"),
                       tests=str(tests), failures=str(failures), errors="0", skipped=str(skipped))
    if evidence is not None:  # the inputs' verification: passed, or skipped by --no-verify
        case = ET.SubElement(ts, "testcase", classname="lab.diff", name="evidence", time="0")
        if skipped:
            ET.SubElement(case, "skipped", message=_x(evidence.summary()))
        else:
            ET.SubElement(case, "system-out").text = _x(evidence.summary())
    for component in components:
        case = ET.SubElement(ts, "testcase", classname="lab.diff", name=_x(component), time="0")
        changes = by_component[component]
        regressions = [c for c in changes if c.regression]
        if regressions:
            message = "; ".join(c.detail for c in regressions)
            failure = ET.SubElement(case, "failure", message=_x(message[:1000]), type=_x(regressions[0].rule))
            failure.text = _x("\n".join(f"[{c.rule}] {c.detail}{evidence_text(c)}" for c in regressions))
        others = [c for c in changes if not c.regression]
        if others:
            out = ET.SubElement(case, "system-out")
            out.text = _x("\n".join(f"{c.kind}: {c.detail}" for c in others))
    if result.requirements:
        rs = ET.SubElement(root, "testsuite", name=_x(f"{suite} requirements: {compared}"),
                           tests=str(len(result.requirements)), failures=str(req_failures), errors="0", skipped="0")
        for requirement in result.requirements:
            _requirement_case(rs, requirement, by_requirement[requirement["id"]])
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _requirement_case(suite: ET.Element, requirement: dict[str, str], changes: list[Change]) -> None:
    """A requirement as a test case: failed by the regressions that concern it."""
    case = ET.SubElement(suite, "testcase", classname="lab.diff.requirements", name=_x(requirement["id"]),
                         time="0")
    about = f"{requirement['standard']}: {requirement['title']}"
    regressions = [c for c in changes if c.regression]
    if regressions:
        message = f"{requirement['id']}: " + "; ".join(c.detail for c in regressions)
        failure = ET.SubElement(case, "failure", message=_x(message[:1000]), type=_x(regressions[0].rule))
        failure.text = _x("\n".join([about, *(f"[{c.rule}] {c.component}: {c.detail}{evidence_text(c)}"
                                              for c in regressions)]))
    others = [c for c in changes if not c.regression]
    if others or not regressions:
        ET.SubElement(case, "system-out").text = _x("\n".join([about, *(f"{c.kind}: {c.detail}" for c in others)]))


def junit_refused(verification: Verification, suite: str = "lab diff") -> str:
    """JUnit XML for a diff refused because its inputs fail verification: one errored
    test case, `evidence`, naming each capture and its problems."""
    root = ET.Element("testsuites", name=_x(suite), tests="1", failures="0", errors="1")
    ts = ET.SubElement(root, "testsuite", name=_x(f"{suite}: not compared"), tests="1", failures="0",
                       errors="1", skipped="0")
    case = ET.SubElement(ts, "testcase", classname="lab.diff", name="evidence", time="0")
    error = ET.SubElement(case, "error", message=_x(verification.summary()), type="verification")
    error.text = _x("\n".join([*(f"{c.side} {c.run_dir}: {p}" for c in verification.failed for p in c.problems),
                               "not compared: --no-verify compares anyway"]))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def diff_json(result: DiffResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n"


def _md(text: object) -> str:
    from harness.report.flat import md_cell

    return md_cell(text)


def diff_markdown(result: DiffResult) -> str:
    verdict = "REGRESSION" if result.regressions else "no regression"
    lines = [f"# Firmware diff: {verdict}", "",
             f"- baseline: {_md(', '.join(result.baseline))}", f"- new: {_md(', '.join(result.new))}",
             f"- regressions: {len(result.regressions)}, other changes: {len(result.changes) - len(result.regressions)}",
             ""]
    if result.verification is not None:
        lines.insert(-1, f"- evidence: {_md(result.verification.summary())}")
    if result.regressions:
        lines += ["## Regressions", "", "| component | rule | change | requirements |", "|---|---|---|---|"]
        lines += [f"| {_md(c.component)} | {_md(c.rule)} | {_md(c.detail + evidence_text(c))} | "
                  f"{_md(', '.join(c.requirements))} |" for c in result.regressions]
        lines.append("")
    others = [c for c in result.changes if not c.regression]
    if others:
        lines += ["## Other changes", "", "| component | kind | change |", "|---|---|---|"]
        lines += [f"| {_md(c.component)} | {_md(c.kind)} | {_md(c.detail)} |" for c in others]
        lines.append("")
    return "\n".join(lines) + "\n"


def diff_html(result: DiffResult) -> str:
    from harness.report.html import _ENV, script_json

    return _ENV.get_template("diff.html.j2").render(
        result=result, regressions=result.regressions,
        others=[c for c in result.changes if not c.regression], data=script_json(result.to_dict()),
    )


RENDERERS = {"md": diff_markdown, "json": diff_json, "html": diff_html}
