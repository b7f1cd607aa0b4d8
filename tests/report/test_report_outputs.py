"""`lab report`: every format, the same numbers, masked values, hostile captures as text."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from support.capture_builder import (
    ANALYTICS_HOST,
    IMEI,
    TELEMETRY_HOST,
    CaptureBuilder,
    _geo,
    build_capture,
)

from harness.cli.main import main
from harness.report import FORMATS, write_reports

HOSTILE_HOST = "<script>alert(1)</script>.example"
HOSTILE_PATH = "/p?q=<img src=x onerror=alert(2)><!--&x=</script><b>bold</b>"


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.text: list[str] = []
        self.cells: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        if tag == "table":
            self._table = attrs.get("id")
            self.cells[self._table] = []
        if tag == "tr" and self._table:
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.cells[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse_html(path):
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def html_table(parser, name):
    rows = parser.cells[f"t-{name}"]
    head, body = rows[0], rows[1:]
    return [dict(zip(head, r, strict=True)) for r in body]


@pytest.fixture
def demo(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    # the IMEI in clear in a URL: masked in every output unless revealed
    b.flow("ads.example", at=50, server_ip="198.51.100.90", geo=_geo("US", "Ads Inc", "US"),
           method="GET", path=f"/t?imei={IMEI}", flags=["foreign"],
           findings=[{"type": "imei", "id": "imei", "where": "url", "encoding": "plain"}])
    return b.write()


def test_all_formats_agree_on_the_numbers(demo, tmp_path):
    out = tmp_path / "out"
    paths = write_reports([demo], FORMATS, out=out)
    names = {p.name for p in paths}
    assert {"report.html", "report.json", "report.xlsx", "report.md", "destinations.csv",
            "flows.parquet", "data_flows.parquet"} <= names

    report = json.loads((out / "report.json").read_text())
    from_json = {d["destination"]: d for d in report["destinations"]}
    with (out / "destinations.csv").open() as fh:
        from_csv = {d["destination"]: d for d in csv.DictReader(fh)}
    wb = load_workbook(out / "report.xlsx", read_only=True)
    rows = list(wb["destinations"].iter_rows(values_only=True))
    from_xlsx = {r[rows[0].index("destination")]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    from_html = {d["destination"]: d for d in html_table(parse_html(out / "report.html"), "destinations")}

    assert set(from_json) == set(from_csv) == set(from_xlsx) == set(from_html)
    assert len(from_json) == 7
    for host in from_json:
        for col in ("bytes_up", "bytes_down", "flows", "requests", "tls_rejected", "bypassed"):
            values = {int(from_json[host][col]), int(from_csv[host][col]), int(from_xlsx[host][col]),
                      int(from_html[host][col])}
            assert len(values) == 1, (host, col, values)
        for col in ("severity", "country", "org", "flags", "data_types"):
            assert from_json[host][col] == from_csv[host][col] == from_html[host][col] == (from_xlsx[host][col] or "")
    assert int(from_json[TELEMETRY_HOST]["bytes_up"]) == 512 + 513 + 514

    counts = report["summary"]["counts"]
    summary_sheet = {r[0]: r[1] for r in wb["summary"].iter_rows(values_only=True)}
    html = parse_html(out / "report.html")
    for key in ("flows", "destinations", "findings", "bytes_up", "bytes_down", "data_flows"):
        assert summary_sheet[key] == counts[key]
    cards = (out / "report.html").read_text()
    for key in ("flows", "destinations", "findings", "bytes_up"):
        assert f'data-count="{key}"><b>{counts[key]}</b>' in cards
    with (out / "flows.csv").open() as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == counts["flows"] == 9
    assert html_table(html, "data_flows")


def test_report_names_reader_class_host_country_org_and_flags(demo, tmp_path):
    out = tmp_path / "out"
    write_reports([demo], ["html", "json"], out=out)
    rows = json.loads((out / "report.json").read_text())["data_flows"]
    imei = [r for r in rows if r["data_type"] == "imei" and r["host"] == ANALYTICS_HOST][0]
    assert imei["app"] == "com.vendor.weather"
    assert imei["library"] == "com.vendor.analytics.Tracker"
    assert imei["encodings"] == "sha256"
    assert (imei["country"], imei["org"]) == ("US", "Example Analytics Inc")
    assert "foreign" in imei["flags"]
    html_rows = html_table(parse_html(out / "report.html"), "data_flows")
    row = [r for r in html_rows if r["host"] == ANALYTICS_HOST][0]
    assert (row["app"], row["library"], row["encodings"], row["country"], row["org"]) == (
        "com.vendor.weather", "com.vendor.analytics.Tracker", "sha256", "US", "Example Analytics Inc")
    assert "foreign" in row["flags"]


def test_sensitive_values_masked_unless_revealed(demo, tmp_path):
    masked, revealed = tmp_path / "m", tmp_path / "r"
    write_reports([demo], FORMATS, out=masked)
    write_reports([demo], ["csv", "json", "html"], out=revealed, reveal=True)
    mask = IMEI[:2] + "****" + IMEI[-2:]
    for path in masked.iterdir():
        data = path.read_bytes()
        assert IMEI.encode() not in data, path.name
    assert mask in (masked / "reads.csv").read_text()
    assert mask in (masked / "flows.csv").read_text()
    import pandas as pd

    assert mask in pd.read_parquet(masked / "flows.parquet")["url"].str.cat()
    assert IMEI in (revealed / "reads.csv").read_text()
    assert IMEI in (revealed / "report.html").read_text()


def test_hostile_hostname_and_path_render_as_text(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    b.flow(HOSTILE_HOST, at=40, server_ip="203.0.113.66", geo=_geo("CN", "<b>Org</b>", "CN"),
           method="GET", path=HOSTILE_PATH, flags=["foreign", "watchlist_country"],
           findings=[{"type": "imei", "id": "imei", "where": "url", "encoding": "md5"}])
    b.connect("com.vendor.weather", HOSTILE_HOST, "203.0.113.66", 443, at=39.9)
    out = tmp_path / "out"
    write_reports([b.write()], ["html", "md", "csv"], out=out)
    parser = parse_html(out / "report.html")
    assert parser.tags.count("script") == 2  # the report's JSON and its own script
    assert "img" not in parser.tags
    text = "".join(parser.text)
    assert HOSTILE_HOST in text
    assert "<b>Org</b>" in text
    raw = (out / "report.html").read_text()
    assert "<script>alert" not in raw and "<img" not in raw
    data = json.loads(parser.scripts[0])
    assert HOSTILE_HOST in json.dumps(data)  # survives the round trip, still inert
    assert "</script" not in parser.scripts[0] and "<!--" not in parser.scripts[0]
    # tags from the capture never become elements: they are in the text, escaped in the source
    assert "<b>bold</b>" in text and "<b>bold" not in raw and "<b>Org" not in raw
    assert "&lt;b&gt;bold&lt;/b&gt;" in raw
    assert "<script>" not in (out / "report.md").read_text()


def test_csv_cells_that_look_like_formulas_are_defused(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.flow("=HYPERLINK(\"http://x\")", at=40, server_ip="203.0.113.9", geo=_geo("US", "@SUM(1)", "US"))
    out = tmp_path / "out"
    write_reports([b.write()], ["csv", "xlsx"], out=out)
    text = (out / "destinations.csv").read_text()
    assert "'=hyperlink" in text and "'@SUM(1)" in text  # destinations are lower-cased
    wb = load_workbook(out / "report.xlsx")
    values = [c.value for row in wb["destinations"].iter_rows() for c in row]
    assert "'=hyperlink(\"http://x\")" in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for v in values)


def test_several_runs_merge_into_one_report(tmp_path):
    one = build_capture(tmp_path / "a")
    two = CaptureBuilder(tmp_path / "b", run_id="run-b", serial="SERIAL2").vendor_scenario().write()
    paths = write_reports([one, two], ["json"])
    assert paths == [one / "report" / "report.json"]
    report = json.loads(paths[0].read_text())
    assert report["summary"]["counts"]["runs"] == 2
    assert report["summary"]["counts"]["flows"] == 16


def test_cli_report_prints_paths(demo, tmp_path):
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(main, ["report", str(demo), "--format", "html,csv", "--out", str(out),
                                       "--lab", str(tmp_path / "absent-is-an-error.yaml")])
    assert result.exit_code == 2  # a named lab file that does not exist is an error
    result = CliRunner().invoke(main, ["report", str(demo), "--format", "html,json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(out / "report.html"), str(out / "report.json")]


def test_cli_report_uses_the_lab_policy(demo, tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: t\njurisdiction: IN\npolicy:\n  severity:\n    tls_rejected: critical\n")
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["report", str(demo), "--format", "json", "--out", str(out),
                                       "--lab", str(lab)])
    assert result.exit_code == 0, result.output
    first = json.loads((out / "report.json").read_text())["destinations"][0]
    assert (first["destination"], first["severity"]) == ("secure.bank.example.in", "critical")


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "not a capture folder"),
    (lambda p: (p / "run.json").write_text('{"format": "lab-harness-capture", "format_version": 7}'), "newer"),
])
def test_cli_report_bad_input_exits_2_with_one_line(tmp_path, setup, message):
    setup(tmp_path)
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_cli_report_unknown_format_exits_2(demo):
    result = CliRunner().invoke(main, ["report", str(demo), "--format", "html,pdf"])
    assert result.exit_code == 2
    assert "unknown report format 'pdf'" in result.output


def test_long_values_are_cut_in_html_but_whole_in_csv(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    long_path = "/" + "a" * 5000
    b.flow("long.example", at=40, server_ip="203.0.113.9", geo=_geo("US", "X", "US"), path=long_path,
           flags=["foreign"])
    b.hooks.append({"type": "hook:error", "ts": b.t0 + 41, "package": "com.vendor.weather",
                    "error": "ClassNotFoundException"})
    out = tmp_path / "out"
    write_reports([b.write()], ["html", "csv", "json"], out=out)
    html = (out / "report.html").read_text()
    assert "more characters in the CSV" in html and long_path not in html
    assert long_path in (out / "flows.csv").read_text()
    assert json.loads((out / "report.json").read_text())["summary"]["counts"]["hook_errors"] == 1


def test_unwritable_report_folder_is_a_one_line_error(demo, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["report", str(demo), "--format", "json", "--out", str(blocker / "x")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "cannot write the report" in result.output


def test_read_values_are_masked_even_without_canaries(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.read("com.vendor.weather", "android.accounts.AccountManager.getAccounts", "account",
           "someone.private@example.org", ["com.x.Y.z(Y.java:1)"], at=31)
    path = b.write()
    (path / "canaries.json").unlink()
    out = tmp_path / "out"
    write_reports([path], ["csv", "html"], out=out)
    assert "someone.private@example.org" not in (out / "reads.csv").read_text()
    assert "so****rg" in (out / "reads.csv").read_text()
    assert "values masked" in (out / "report.html").read_text()


def test_html_evidence_names_the_first_flows_and_counts_the_rest(tmp_path):
    path = CaptureBuilder(tmp_path / "run").vendor_scenario(phone_homes=5).write()
    out = tmp_path / "out"
    write_reports([path], ["html", "json"], out=out)
    row = [r for r in html_table(parse_html(out / "report.html"), "data_flows") if r["data_type"] == "android_id"][0]
    assert row["evidence"].endswith("… (+2 more)") and len(row["evidence"].split()) == 3 + 3
    full = [r for r in json.loads((out / "report.json").read_text())["data_flows"] if r["data_type"] == "android_id"]
    assert len(full[0]["evidence"].split()) == 5


def test_coverage_classes_add_up_to_the_flows_in_every_format(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    err = b.flow("down.example", at=40, server_ip="198.51.100.5", geo=_geo("US", "X", "US"), kind="error",
                 tls={"intercepted": True, "version": "TLSv1.3", "failure": None})
    err.update(method="GET", url="https://down.example/x")
    out = tmp_path / "out"
    write_reports([b.write()], ["html", "md", "json", "csv"], out=out)
    classes = ("intercepted", "cleartext", "tls_rejected", "failed", "not_http")
    html = (out / "report.html").read_text()
    shown = {c: int(re.search(rf'data-coverage="{c}">(\d+)<', html).group(1)) for c in classes}
    assert shown == {"intercepted": 8, "cleartext": 0, "tls_rejected": 1, "failed": 0, "not_http": 0}
    assert "8 intercepted, 0 cleartext, 1 TLS rejected, 0 failed, 0 not HTTP (passed on unread), of 9 flows" in (
        out / "report.md").read_text()
    with (out / "flows.csv").open() as fh:
        assert sorted(r["coverage"] for r in csv.DictReader(fh)) == ["intercepted"] * 8 + ["tls_rejected"]
    flows = html_table(parse_html(out / "report.html"), "flows")
    assert sorted(r["coverage"] for r in flows) == ["intercepted"] * 8 + ["tls_rejected"]


def test_flows_jsonl_leaves_attribution_to_the_analysis_and_the_report_exports_it(demo, tmp_path):
    """The capture contract: live records carry `app` and `attribution` as null; the
    report's flows.csv and flows.parquet carry every flow attributed."""
    import pandas as pd

    records = [json.loads(line) for line in (demo / "flows.jsonl").read_text().splitlines()]
    assert all(r["app"] is None and r["attribution"] is None for r in records)
    out = tmp_path / "out"
    write_reports([demo], ["csv", "parquet"], out=out)
    with (out / "flows.csv").open() as fh:
        from_csv = list(csv.DictReader(fh))
    from_parquet = pd.read_parquet(out / "flows.parquet")
    assert len(from_csv) == len(from_parquet) == len(records)
    for table in (pd.DataFrame(from_csv), from_parquet):
        assert table["app"].astype(str).str.len().min() > 0
        assert set(table["attribution_confidence"]) <= {"high", "medium", "low", "none"}
    weather = from_parquet[from_parquet["host"] == ANALYTICS_HOST]
    assert set(weather["app"]) == {"com.vendor.weather"}
    assert set(weather["attribution_method"]) == {"frida_request_host"}


def test_an_idn_destination_shows_its_ascii_form_and_its_mixed_scripts(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    b.flow("аррӏе.com", at=40, server_ip="198.51.100.40", geo=_geo("US", "X", "US"), path="/login")
    out = tmp_path / "out"
    write_reports([b.write()], ["html", "md", "csv"], out=out)
    row = [r for r in html_table(parse_html(out / "report.html"), "destinations") if r["destination"] == "аррӏе.com"]
    assert row and row[0]["destination_ascii"] == "xn--80ak6aa92e.com" and "mixed_script" in row[0]["flags"]
    html = parse_html(out / "report.html")
    assert "аррӏе.com (xn--80ak6aa92e.com: cyrillic + latin)" in "".join(html.text)
    md = (out / "report.md").read_text()
    assert "mixed-script host (a look-alike?): аррӏе.com = xn--80ak6aa92e.com (cyrillic + latin)" in md
    with (out / "destinations.csv").open() as fh:
        assert {r["destination"]: r["destination_ascii"] for r in csv.DictReader(fh)}["аррӏе.com"] == "xn--80ak6aa92e.com"


def test_every_report_file_is_owner_only(demo, tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    stale = out / "report.md"
    stale.write_text("an earlier report")
    stale.chmod(0o644)
    paths = write_reports([demo], FORMATS, out=out)
    assert {p.suffix for p in paths} == {".html", ".csv", ".xlsx", ".json", ".md", ".parquet"}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o600, path.name
    default = write_reports([demo], ["md"])[0]  # into the capture's report/ folder
    assert default.stat().st_mode & 0o777 == 0o600
    assert default.parent.stat().st_mode & 0o777 == 0o700


def test_a_symlink_in_the_report_folder_is_not_followed(demo, tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched")
    (out / "report.json").symlink_to(target)
    result = CliRunner().invoke(main, ["report", str(demo), "--format", "json", "--out", str(out)])
    assert result.exit_code == 2 and "cannot write the report" in result.output
    assert target.read_text() == "untouched"
