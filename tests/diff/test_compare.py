"""`lab diff`: regressions between a baseline and a new firmware's captures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from support.capture_builder import NEW_HOST, CaptureBuilder, _geo

from harness.cli.main import main
from harness.config.lab import Policy, RegressionPolicy
from harness.diff.compare import destination_key, diff_captures
from harness.diff.render import diff_html, diff_json, diff_markdown, junit_xml
from harness.errors import CaptureError

T1 = 1_790_100_000.0


def baseline(tmp_path, **kw):
    b = CaptureBuilder(tmp_path / "base", **kw).vendor_scenario()
    b.flow(None, at=70, server_ip="142.250.1.5", geo=_geo("US", "Example Push", "US"), kind="tcp", port=5228)
    return b


def noisy(tmp_path, name, variant="vendor-1.0"):
    """Same firmware behaviour, different run: counts, times, shard numbers, rotating IPs."""
    b = CaptureBuilder(tmp_path / name, variant=variant, t0=T1, run_id=f"run-{name}").vendor_scenario(
        phone_homes=5, shard="cdn02", cdn_ip="198.51.100.99", jitter=0.8)
    b.flow(None, at=71, server_ip="142.250.9.77", geo=_geo("US", "Example Push", "US"), kind="tcp", port=5228)
    return b


@pytest.mark.parametrize("a,b", [
    ("cdn1.vendor-static.example", "cdn02.vendor-static.example"),
    ("r3---sn-a5m.cdn.example", "r12---sn-a5m.cdn.example"),
    ("a3f9c2e1b7.edge.example", "0b77e2c4d1.edge.example"),
    ("API.Example.", "api.example"),
])
def test_shards_and_case_fold_to_one_destination(a, b):
    assert destination_key(a) == destination_key(b)


def test_distinct_names_stay_distinct_and_bare_ips_match_by_org():
    assert destination_key("api.example") != destination_key("cdn.example")
    assert destination_key(None, "142.250.1.5", "Example Push") == destination_key("142.250.9.77", None, "Example Push")
    assert destination_key(None, "142.250.1.5", None) != destination_key(None, "142.250.9.77", None)


def test_vendor_11_adds_exactly_one_foreign_destination_receiving_contacts(tmp_path):
    base = baseline(tmp_path).write()
    new = noisy(tmp_path, "new", "vendor-1.1").write()
    result = diff_captures([base], [new])
    assert result.exit_code == 1
    regs = result.regressions
    assert {(c.kind, c.rule) for c in regs} == {
        ("new_destination", "new_foreign_destination_with_data"),
        ("new_data_type", "new_data_type_to_foreign"),
    }
    assert all(NEW_HOST in c.detail for c in regs)
    dtype = [c for c in regs if c.kind == "new_data_type"][0]
    assert dtype.data["data_type"] == "contact" and dtype.data["encodings"] == ["gzip+base64"]
    assert {c.component for c in regs} == {"com.vendor.weather"}
    kinds = [c.kind for c in result.changes]
    assert kinds.count("new_destination") == 1 and "vanished_destination" not in kinds
    assert {c.subject for c in result.changes if c.kind == "device_change"} == {"fingerprint", "security_patch"}

    root = ET.fromstring(junit_xml(result))
    assert root.tag == "testsuites"
    suite, requirements = root.findall("testsuite")  # components (as before), then requirements
    assert {c.get("classname") for c in requirements.findall("testcase")} == {"lab.diff.requirements"}
    cases = suite.findall("testcase")
    assert {c.get("name") for c in cases} >= {"com.vendor.weather", "com.vendor.telemetry", "com.vendor.bank"}
    assert int(suite.get("tests")) == len(cases) and suite.get("failures") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["com.vendor.weather"]
    failure = failed[0].find("failure")
    assert NEW_HOST in failure.get("message") and "contact" in failure.get("message")
    assert "gzip+base64" in failure.text


def test_two_runs_of_the_same_firmware_are_not_a_regression(tmp_path):
    base = baseline(tmp_path).write()
    again = noisy(tmp_path, "again").write()
    result = diff_captures([base], [again])
    assert result.exit_code == 0, [c.detail for c in result.regressions]
    assert not [c for c in result.changes if c.kind in ("new_destination", "vanished_destination")]
    root = ET.fromstring(junit_xml(result))
    assert root.find("testsuite").get("failures") == "0"
    assert root.find("testsuite").findall("testcase")


def test_policy_decides_what_is_a_regression(tmp_path):
    base = baseline(tmp_path).write()
    b = noisy(tmp_path, "new")
    b.flow("fonts.example-cdn.example", at=50, server_ip="198.51.100.200", geo=_geo("US", "Example CDN", "US"),
           flags=["foreign", "not_allowlisted"])
    new = b.write()
    assert diff_captures([base], [new]).exit_code == 0  # a new foreign host without data: reported only
    strict = Policy(regression=RegressionPolicy(new_foreign_destination=True))
    result = diff_captures([base], [new], strict)
    assert [c.rule for c in result.regressions] == ["new_foreign_destination"]
    lenient = Policy(regression=RegressionPolicy(new_foreign_destination_with_data=False,
                                                 new_data_type_to_foreign=False))
    contacts = noisy(tmp_path, "v11", "vendor-1.1").write()
    assert diff_captures([base], [contacts], lenient).exit_code == 0


def test_new_watch_list_country_and_cleartext_with_data(tmp_path):
    base = baseline(tmp_path).write()
    b = noisy(tmp_path, "new")
    b.flow("collector.example.ru", at=50, server_ip="203.0.113.77", geo=_geo("RU", "Example RU", "RU"),
           flags=["foreign", "watchlist_country"])
    b.flow(WEATHER_CLEAR := "api.weather.vendor.example.in", at=52, server_ip="192.0.2.20", port=80,
           geo=_geo("IN", "Vendor India Pvt Ltd", "IN"), flags=["cleartext"],
           findings=[{"type": "imei", "id": "imei", "where": "url", "encoding": "plain"}])
    result = diff_captures([base], [b.write()], Policy(watchlist_countries=["RU"]))
    rules = {c.rule for c in result.regressions}
    assert "new_watchlist_country" in rules and "new_cleartext_with_data" in rules
    assert any(WEATHER_CLEAR in c.detail for c in result.regressions if c.rule == "new_cleartext_with_data")


def test_volume_change_is_reported_not_failed(tmp_path):
    base = baseline(tmp_path).write()
    b = noisy(tmp_path, "new")
    b.flow("cdn7.vendor-static.example", at=55, server_ip="198.51.100.99", geo=_geo("US", "Example CDN", "US"),
           flags=["foreign", "not_allowlisted"], response_bytes=400_000)
    result = diff_captures([base], [b.write()])
    assert result.exit_code == 0
    (vol,) = [c for c in result.changes if c.kind == "volume_change"]
    assert vol.data["new_bytes"] > 3 * vol.data["baseline_bytes"]


def test_several_runs_per_side_merge(tmp_path):
    base = baseline(tmp_path).write()
    base2 = baseline(tmp_path / "2", run_id="base-2", serial="S2").write()
    new = noisy(tmp_path, "new", "vendor-1.1").write()
    result = diff_captures([base, base2], [new])
    assert result.baseline == ["run-vendor-1.0", "base-2"]
    assert len(result.regressions) == 2


def test_renderings_carry_the_verdict_and_escape_capture_values(tmp_path):
    base = baseline(tmp_path).write()
    b = noisy(tmp_path, "new", "vendor-1.1")
    b.flow("<script>x</script>.example", at=50, server_ip="203.0.113.8", geo=_geo("CN", "<b>o</b>", "CN"),
           flags=["foreign"], findings=[{"type": "imei", "id": "imei", "where": "body", "encoding": "md5"}])
    result = diff_captures([base], [b.write()])
    assert json.loads(diff_json(result))["verdict"] == "regression"
    html = diff_html(result)
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "</script" not in html.split('id="diff-data">')[1].split("</script>")[0]
    md = diff_markdown(result)
    assert md.startswith("# Firmware diff: REGRESSION") and "<script>" not in md
    ET.fromstring(junit_xml(result))


def test_cli_diff_exit_codes_and_junit(tmp_path):
    base = baseline(tmp_path).write()
    new = noisy(tmp_path, "new", "vendor-1.1").write()
    again = noisy(tmp_path, "again").write()
    junit = tmp_path / "junit.xml"
    r = CliRunner().invoke(main, ["diff", str(base), str(new), "--junit", str(junit)])
    assert r.exit_code == 1, r.output
    assert "REGRESSION" in r.output and NEW_HOST in r.output
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "1"
    r = CliRunner().invoke(main, ["diff", str(base), str(again), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["verdict"] == "ok"


@pytest.mark.parametrize("spoil,message", [
    (lambda p: (p / "run.json").write_text("{garbled"), "not valid JSON"),
    (lambda p: (p / "run.json").write_text('{"format": "lab-harness-capture", "format_version": 2}'), "newer"),
    (lambda p: [f.unlink() for f in p.iterdir()], "not a capture folder"),
])
def test_cli_diff_bad_input_exits_2_with_one_line(tmp_path, spoil, message):
    base = baseline(tmp_path).write()
    new = noisy(tmp_path, "new").write()
    spoil(new)
    r = CliRunner().invoke(main, ["diff", str(base), str(new)])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    with pytest.raises(CaptureError):
        diff_captures([base], [new])


def test_changes_name_the_components_attributed_with_confidence_not_the_app_in_front(tmp_path):
    base = baseline(tmp_path).write()
    b = noisy(tmp_path, "new")
    # an unhooked firmware service uploads while the weather app is in front (launch step)
    b.flow("upload.partner.example.ru", at=45, server_ip="203.0.113.120", geo=_geo("RU", "Partner RU", "RU"),
           flags=["foreign", "watchlist_country"],
           findings=[{"type": "contact", "id": "contact-1", "where": "body", "encoding": "base64+gzip"}])
    b.flow("upload.partner.example.ru", at=5, server_ip="203.0.113.120", geo=_geo("RU", "Partner RU", "RU"),
           flags=["foreign", "watchlist_country"])                        # boot: system
    result = diff_captures([base], [b.write()], Policy(watchlist_countries=["RU"]))
    regs = result.regressions
    assert [(c.kind, c.components) for c in regs] == [
        ("new_destination", ("system",)), ("new_data_type", ("com.vendor.weather",))]
    # the watch-list country comes with the new destination already failing: said once
    assert "RU" in regs[0].detail and not [c for c in result.changes if c.kind == "new_country"]
    root = ET.fromstring(junit_xml(result))
    failed = {c.get("name") for c in root.find("testsuite").iter("testcase") if c.find("failure") is not None}
    assert failed == {"system", "com.vendor.weather"}


def test_a_folder_of_captures_is_a_set(tmp_path):
    CaptureBuilder(tmp_path / "campaign" / "a").vendor_scenario().write()
    CaptureBuilder(tmp_path / "campaign" / "b", run_id="b2", serial="S2").vendor_scenario().write()
    new = noisy(tmp_path, "new", "vendor-1.1").write()
    result = diff_captures([tmp_path / "campaign"], [new])
    assert sorted(result.baseline) == ["b2", "run-vendor-1.0"]
    assert result.exit_code == 1
    with pytest.raises(CaptureError, match="not a capture folder"):
        diff_captures([tmp_path / "new" / "nothing-here"], [new])
