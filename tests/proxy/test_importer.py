"""`lab import`: capture folders from .mitm and HAR files, classified and scanned."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mitmproxy import io
from mitmproxy.test import tflow, tutils

from harness.capture.folder import FORMAT, FORMAT_VERSION, iter_jsonl, read_json
from harness.capture.manifest import sha256_file
from harness.cli.main import main
from harness.config.lab import LabConfig
from harness.errors import CaptureError
from harness.proxy.importer import import_capture

IMEI = "490154203237518"
LAB_YAML = """\
name: import-lab
jurisdiction: IN
policy:
  watchlist_countries: [CN]
geo:
  overrides:
    - {cidr: 203.0.113.0/24, country: CN}
"""


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(LAB_YAML)
    return path


@pytest.fixture
def canaries(tmp_path: Path) -> Path:
    path = tmp_path / "canaries.json"
    path.write_text(json.dumps({"identifiers": {"imei": IMEI}}))
    return path


def mitm_file(path: Path, garbage: bytes = b"") -> Path:
    body = gzip.compress(json.dumps({"h": hashlib.sha256(IMEI.encode()).hexdigest()}).encode())
    req = tutils.treq(host="collect.example", port=443, scheme=b"https", path=b"/v1", method=b"POST", content=body)
    req.headers["content-encoding"] = "gzip"
    req.headers["content-type"] = "application/json"
    flow = tflow.tflow(req=req, resp=True)
    flow.server_conn.peername = ("203.0.113.7", 443)
    flow.metadata["audit"] = {"flags": ["stale"], "country": "ZZ"}  # recorded elsewhere: recomputed
    tcp_flow = tflow.ttcpflow()
    tcp_flow.server_conn.peername = ("8.8.8.8", 853)
    with path.open("wb") as fh:
        writer = io.FlowWriter(fh)
        writer.add(flow)
        writer.add(tcp_flow)
        fh.write(garbage)
    return path


def har_file(path: Path) -> Path:
    good = {
        "startedDateTime": "2026-01-02T03:04:05.000Z", "time": 12, "serverIPAddress": "203.0.113.9",
        "request": {"method": "POST", "url": f"https://t.example/p?imei={IMEI}", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "text/plain"}],
                    "postData": {"mimeType": "text/plain", "text": "hello"}},
        "response": {"status": 204, "httpVersion": "HTTP/1.1", "headers": [], "content": {"text": ""}},
    }
    broken = {"request": {"method": "GET"}}
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [good, broken]}}))
    return path


def test_import_mitm(tmp_path: Path, lab_file: Path, canaries: Path) -> None:
    from harness.config.lab import load_lab

    out = tmp_path / "imported"
    result = import_capture(mitm_file(tmp_path / "in.mitm"), out, load_lab(lab_file), canaries=canaries, device="SER")
    assert (result.flows, result.findings, result.skipped) == (2, 1, [])
    http_record, tcp_record = list(iter_jsonl(out / "flows.jsonl"))
    assert http_record["server_ip"] == "203.0.113.7" and http_record["country"] == "CN"
    assert set(http_record["flags"]) == {"foreign", "watchlist_country", "sensitive_data"}
    assert http_record["findings"] == [
        {"type": "imei", "id": "imei", "where": "body:$.h", "encoding": "sha256+gzip", "offset": 0}]
    assert http_record["device"] == "SER"
    assert tcp_record["kind"] == "tcp" and tcp_record["country"] == "US"
    manifest = read_json(out / "run.json")
    assert manifest["status"] == "imported"
    assert (manifest["format"], manifest["format_version"]) == (FORMAT, FORMAT_VERSION)
    assert manifest["source"]["format"] == "mitm"
    for name in ("flows.jsonl", "flows.mitm", "canaries.json"):
        assert manifest["artifacts"][name] == sha256_file(out / name)
    with (out / "flows.mitm").open("rb") as fh:
        assert len(list(io.FlowReader(fh).stream())) == 2


def test_import_har_skips_broken_entries(tmp_path: Path, lab_file: Path, canaries: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "har-capture"
    done = runner.invoke(main, ["import", str(har_file(tmp_path / "in.har")), "--out", str(out),
                                "--lab", str(lab_file), "--canaries", str(canaries), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["flows"] == 1
    (record,) = list(iter_jsonl(out / "flows.jsonl"))
    assert record["server_ip"] == "203.0.113.9" and "watchlist_country" in record["flags"]
    assert record["findings"][0]["where"] == "url"
    assert "HAR entry 1" in read_json(out / "run.json")["source"]["skipped"][0]


def test_garbled_mitm_keeps_what_was_read(tmp_path: Path) -> None:
    out = tmp_path / "garbled"
    result = import_capture(mitm_file(tmp_path / "g.mitm", garbage=b"99999:not a tnetstring"), out)
    assert result.flows == 2
    assert "garbled after 2 flows" in result.skipped[0]
    assert read_json(out / "run.json")["counts"]["skipped"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\x00\x01binary", "neither a mitmproxy flow file nor a HAR"), (b"{\"not\": \"har\"}", "not a HAR")],
)
def test_unreadable_sources_are_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "bad.file"
    source.write_bytes(content)
    done = CliRunner().invoke(main, ["import", str(source), "--out", str(tmp_path / "o"),
                                     "--lab", str(tmp_path / "absent.yaml")])
    assert done.exit_code == 2
    assert message in done.stderr
    assert "Traceback" not in done.output


def test_import_refuses_a_folder_with_flows(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "flows.jsonl").write_text("")
    with pytest.raises(CaptureError, match="already holds flows"):
        import_capture(mitm_file(tmp_path / "x.mitm"), out, LabConfig(name="x", jurisdiction="IN"))


DEEP = "[" * 100_000 + "]" * 100_000


def test_har_entry_nested_too_deeply_is_skipped_and_named(tmp_path: Path, lab_file: Path) -> None:
    source = har_file(tmp_path / "in.har")
    data = json.loads(source.read_text())
    good = data["log"]["entries"][0]
    entries = ",\n".join([json.dumps(good), '{"_x": ' + DEEP + "}", json.dumps(good)])
    source.write_text('{"log": {"version": "1.2", "creator": {"name": "x"},\n"entries": [\n'
                      + entries + "\n]}, \"other\": " + DEEP + "}")
    out = tmp_path / "deep-har"
    done = CliRunner().invoke(main, ["import", str(source), "--out", str(out), "--lab", str(lab_file),
                                     "--json"])
    assert done.exit_code == 0, (done.output, done.exception)
    assert json.loads(done.stdout)["flows"] == 2
    assert len(list(iter_jsonl(out / "flows.jsonl"))) == 2
    (skipped,) = read_json(out / "run.json")["source"]["skipped"]
    assert skipped == "HAR entry 1 (line 4): nested more than 100 levels deep at line 4; skipped"


def test_mitm_record_nested_too_deeply_is_skipped_and_named(tmp_path: Path) -> None:
    deep = b"0:]"
    for _ in range(100_000):
        deep = str(len(deep)).encode() + b":" + deep + b"]"
    good = mitm_file(tmp_path / "good.mitm").read_bytes()
    source = tmp_path / "deep.mitm"
    source.write_bytes(good + deep + mitm_file(tmp_path / "more.mitm").read_bytes())
    result = import_capture(source, tmp_path / "out")
    assert result.flows == 4
    assert result.skipped == [f"flow file record at byte {len(good)}: nested too deeply; skipped"]


@pytest.mark.parametrize("text, message", [
    ('{"log": {"entries": [{}, ' + "[" * 50, "Expecting value: line 1 column 76"),
    ('{"log": {"entries": [{}, ' + "[" * 100_000, "unterminated array or object: line 1 column 26"),
    ('{"log": {"entries": {}}}', "log.entries is not a list"),
    ('{"log": []}', "log is not an object"),
    ('{"log": {"entries": []}} x', "extra data after the HAR: line 1 column 26"),
    ('{"log": {"entries": [1 2]}}', "expected ',' or ']': line 1 column 24"),
])
def test_har_that_is_not_json_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    source = tmp_path / "bad.har"
    source.write_text(text)
    with pytest.raises(CaptureError, match=f"not a HAR file \\({message}"):
        import_capture(source, tmp_path / "out")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("content", [
    b"99999:not a tnetstring", b"0:~", b"1:5#", b"24:7:version,2:20#4:type,0:;}",
], ids=["garbage", "null", "number", "not a flow"])
def test_a_mitm_file_without_a_readable_flow_is_an_error_and_leaves_nothing(tmp_path: Path,
                                                                           content: bytes) -> None:
    source = tmp_path / "in" / "garbage.mitm"
    source.parent.mkdir()
    source.write_bytes(content)
    out = tmp_path / "captures" / "imported"
    done = CliRunner().invoke(main, ["import", str(source), "--out", str(out),
                                     "--lab", str(tmp_path / "absent.yaml")])
    assert done.exit_code == 2, (done.output, done.exception)
    assert f"lab: {source}: no readable flow in this mitm file" in done.stderr
    assert leftovers(tmp_path) == ["in"]  # not even the captures folder made for it


def test_a_har_without_entries_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "empty.har"
    source.write_text('{"log": {"version": "1.2", "entries": []}}')
    with pytest.raises(CaptureError, match="no readable flow in this har file"):
        import_capture(source, tmp_path / "out")
    assert leftovers(tmp_path) == ["empty.har"]


def test_a_failed_import_leaves_nothing_and_can_be_run_again(tmp_path: Path) -> None:
    good = json.loads(har_file(tmp_path / "good.har").read_text())["log"]["entries"][0]
    source = tmp_path / "torn.har"
    source.write_text('{"log": {"entries": [' + json.dumps(good) + ', {"request": ')  # after a flow
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="not a HAR file"):
        import_capture(source, out)
    assert leftovers(tmp_path) == ["good.har", "torn.har"]
    out.mkdir()  # an empty folder is a fine target
    result = import_capture(tmp_path / "good.har", out)
    assert result.flows == 1 and result.out == out
    assert leftovers(out) == ["flows.jsonl", "flows.mitm", "run.json"]
    assert read_json(out / "run.json")["run_id"] == "out"
    assert leftovers(tmp_path) == ["good.har", "out", "torn.har"]
    verified = CliRunner().invoke(main, ["verify", str(out)])
    assert verified.exit_code == 0, verified.output


def test_bad_canaries_leave_nothing(tmp_path: Path) -> None:
    canaries = tmp_path / "canaries.json"
    canaries.write_text("{not json")
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="cannot import"):
        import_capture(mitm_file(tmp_path / "x.mitm"), out, canaries=canaries)
    assert not out.exists() and leftovers(tmp_path) == ["canaries.json", "x.mitm"]


def test_import_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CaptureError, match="not empty"):
        import_capture(mitm_file(tmp_path / "x.mitm"), out)
    assert leftovers(out) == ["notes.txt"]


@pytest.mark.parametrize("stored", ["still-gzipped", "decoded"])
def test_har_response_body_keeps_its_one_gzip_layer_however_it_was_stored(tmp_path: Path, lab_file: Path,
                                                                         canaries: Path, stored: str) -> None:
    """The HAR spec stores a body decoded; some tools store the sent (gzip'd) bytes in
    base64. Either way the body had one gzip layer: flows.mitm holds it once (mitmproxy's
    reader gzip'd the stored bytes again, so a scan undid `gzip+gzip`)."""
    import base64

    from harness.config.lab import load_lab

    body = json.dumps({"h": hashlib.sha256(IMEI.encode()).hexdigest()}).encode()
    text = base64.b64encode(gzip.compress(body) if stored == "still-gzipped" else body).decode()
    entry = {
        "startedDateTime": "2026-01-02T03:04:05.000Z", "time": 12, "serverIPAddress": "203.0.113.9",
        "request": {"method": "GET", "url": "https://t.example/cfg", "httpVersion": "HTTP/1.1", "headers": []},
        "response": {"status": 200, "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "application/json"},
                                 {"name": "Content-Encoding", "value": "gzip"}],
                     "content": {"mimeType": "application/json", "encoding": "base64", "text": text}},
    }
    source = tmp_path / "in.har"
    source.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry]}}))
    import_capture(source, tmp_path / "out", load_lab(lab_file), canaries=canaries, device="SER")
    with (tmp_path / "out" / "flows.mitm").open("rb") as fh:
        (flow,) = io.FlowReader(fh).stream()
    assert flow.response.content == body
