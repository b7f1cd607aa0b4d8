"""Masked reports: no form or encoding of a canary or identifier in any output file."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from urllib.parse import quote

import pandas as pd
import pytest
from openpyxl import load_workbook
from support.capture_builder import CaptureBuilder, _geo

from harness.capture import parse_canaries
from harness.report import FORMATS, write_reports
from harness.sensitive.encodings import needles_of

US = _geo("US", "Tracker Inc", "US")


def encodings(value: str) -> dict[str, str]:
    raw = value.encode()
    out = {"plain": value, "upper": value.upper(), "lower": value.lower(), "url": quote(value, safe=""),
           "base64": base64.b64encode(raw).decode(), "base64url": base64.urlsafe_b64encode(raw).decode(),
           "hex": raw.hex(), "HEX": raw.hex().upper()}
    for algo in ("md5", "sha1", "sha256"):
        out[algo] = hashlib.new(algo, raw).hexdigest()
        out[algo.upper()] = out[algo].upper()
        out[f"{algo}-b64"] = base64.b64encode(hashlib.new(algo, raw).digest()).decode()
    return out


@pytest.fixture
def leaky(tmp_path):
    """Flows that carry every canary in every encoding, in the URL, the host and the notes."""
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    values = [(c.type, c.value) for c in parse_canaries(b.canaries()).values]
    for i, (kind, value) in enumerate(values):
        forms = encodings(value)
        query = "&".join(f"{name}={text}" for name, text in forms.items())
        record = b.flow(f"{forms['md5'][:12]}.tracker.example", at=40 + i, server_ip="198.51.100.60", geo=US,
                        method="GET", path=f"/t?{query}", flags=["foreign"],
                        findings=[{"type": kind, "id": kind, "where": "url", "encoding": "md5", "offset": 3}])
        record["notes"] = [f"decoded {forms['sha256']} from {forms['base64']}"]
        b.read("com.vendor.weather", "android.os.Build.getSerial", kind, value, ["com.x.Y.z(Y.java:1)"], at=39 + i)
    return b.write(), values


def output_texts(folder) -> dict[str, str]:
    texts = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".xlsx":
            wb = load_workbook(path, read_only=True)
            texts[path.name] = "\n".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row)
        elif path.suffix == ".parquet":
            buffer = io.StringIO()
            pd.read_parquet(path).to_csv(buffer)
            texts[path.name] = buffer.getvalue()
        else:
            texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def test_no_form_or_encoding_of_a_canary_survives_masking(leaky, tmp_path):
    capture, values = leaky
    out = tmp_path / "masked"
    write_reports([capture], FORMATS, out=out)
    texts = output_texts(out)
    assert {"report.html", "report.json", "report.md", "report.xlsx", "flows.csv", "flows.parquet"} <= set(texts)
    for name, text in texts.items():
        low = text.lower()
        for kind, value in values:
            for encoding, form in encodings(value).items():
                assert form.lower() not in low, (name, kind, encoding, form)
            for encoding, needle in needles_of(kind, value):  # what the scanner matches, all alignments
                assert needle.lower() not in low, (name, kind, encoding, needle)
    flows = pd.read_csv(out / "flows.csv")
    assert flows["url"].str.contains(r"\*\*\*\*", regex=True).sum() >= len(values)


def test_reveal_shows_every_form(leaky, tmp_path):
    capture, values = leaky
    out = tmp_path / "revealed"
    write_reports([capture], ["csv", "json", "html", "md"], out=out, reveal=True)
    flows = (out / "flows.csv").read_text(encoding="utf-8")
    for kind, value in values:
        for encoding, form in encodings(value).items():
            assert form in flows, (kind, encoding)
    report = json.loads((out / "report.json").read_text())
    assert report["revealed"] is True
