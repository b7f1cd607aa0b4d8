"""Internationalised hostnames: Unicode and ASCII forms, mixed scripts."""

from __future__ import annotations

import pandas as pd
import pytest
from support.capture_builder import CaptureBuilder, _geo

from harness.analysis.frames import analyse
from harness.analysis.hostnames import host_forms, idn_columns, is_mixed_script

APPLE_LOOKALIKE = "аррӏе.com"  # Cyrillic а р р ӏ е
APPLE_ACE = "xn--80ak6aa92e.com"


@pytest.mark.parametrize("host,forms", [
    (APPLE_LOOKALIKE, (APPLE_LOOKALIKE, APPLE_ACE)),
    (APPLE_ACE, (APPLE_LOOKALIKE, APPLE_ACE)),
    ("münchen.de", ("münchen.de", "xn--mnchen-3ya.de")),
    ("api.example", ("api.example", "api.example")),
    ("xn--zz.example", ("xn--zz.example", "xn--zz.example")),  # not punycode: as it came
    ("203.0.113.7", ("203.0.113.7", "203.0.113.7")),
    ("a\u202eb.example", ("a\u202eb.example", "xn--ab-g4t.example")),  # refused by IDNA: still ASCII
])
def test_forms(host, forms):
    assert host_forms(host) == forms


@pytest.mark.parametrize("host,mixed", [
    (APPLE_LOOKALIKE, True),   # Cyrillic name, Latin TLD
    (APPLE_ACE, True),         # judged on its Unicode form
    ("pаypal.com", True),      # one Cyrillic а inside a Latin label
    ("пример.рф", False),
    ("münchen.de", False),
    ("日本語ドメイン.jp", False),  # Han + Katakana + Latin: Japanese
    ("한국.kr", False),
    ("api-2.example", False),
    ("ελλάδα.com", True),
])
def test_mixed_script(host, mixed):
    assert is_mixed_script(host) is mixed


def test_idn_columns_leave_plain_hosts_without_an_ascii_twin():
    uni, ace, mixed = idn_columns(pd.Series([APPLE_ACE, "api.example", None]))
    assert uni.tolist()[:2] == [APPLE_LOOKALIKE, "api.example"]
    assert ace.tolist()[:2] == [APPLE_ACE, ""]
    assert mixed.tolist() == [True, False, False]


def test_a_lookalike_destination_shows_both_forms_and_is_flagged(tmp_path):
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    us = _geo("US", "Example Org", "US")
    b.flow(APPLE_LOOKALIKE, at=40, server_ip="198.51.100.40", geo=us)  # HTTP: mitmproxy's decoded Host
    raw = b.flow(None, at=41, server_ip="198.51.100.40", geo=us, kind="tcp")  # raw TLS: the SNI as sent
    raw["sni"] = APPLE_ACE
    b.flow("münchen.example", at=42, server_ip="198.51.100.41", geo=us)
    a = analyse([b.write()])
    dest = a.destinations.set_index("destination")
    row = dest.loc[APPLE_LOOKALIKE]  # both spellings are one destination
    assert row["flows"] == 2
    assert row["destination_ascii"] == APPLE_ACE
    assert "mixed_script" in row["flags"].split(",")
    assert dest.loc["münchen.example", "destination_ascii"] == "xn--mnchen-3ya.example"
    assert "mixed_script" not in dest.loc["münchen.example", "flags"]
    assert dest.loc["api.weather.vendor.example.in", "destination_ascii"] == ""
    assert a.summary["mixed_script_destinations"] == [
        {"destination": APPLE_LOOKALIKE, "destination_ascii": APPLE_ACE, "scripts": ["cyrillic", "latin"]}]
