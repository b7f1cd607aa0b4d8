"""The report summary: decryption coverage, one class per flow."""

from __future__ import annotations

import pytest
from support.capture_builder import CaptureBuilder, _geo

from harness.analysis.frames import analyse

US = _geo("US", "Example Org", "US")
COVERAGE_CLASSES = ("intercepted", "cleartext", "tls_rejected", "failed", "not_http")


@pytest.fixture
def mixed(tmp_path):
    """The vendor run (7 intercepted HTTPS flows, 1 pinned) plus one flow of each other shape."""
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    # TLS intercepted, then the upstream failed: an error flow whose request was read
    err = b.flow("down.example", at=40, server_ip="198.51.100.5", geo=US, kind="error",
                 tls={"intercepted": True, "version": "TLSv1.3", "failure": None})
    err.update(method="GET", url="https://down.example/x", http_version="HTTP/1.1")
    # plain HTTP, answered
    b.flow("plain.example", at=41, server_ip="198.51.100.6", geo=US, port=80, flags=["cleartext"])
    # raw TCP in clear: read by the scanner, not HTTP
    raw = b.flow(None, at=42, server_ip="198.51.100.7", geo=US, kind="tcp", port=5228, flags=["cleartext"])
    raw["scheme"] = "tcp"
    # raw TCP the proxy passed through unread
    opaque = b.flow(None, at=43, server_ip="198.51.100.8", geo=US, kind="tcp", port=4070)
    opaque["scheme"] = "tcp"
    # a CONNECT the upstream refused: no TLS, no request inside it
    refused = b.flow("gone.example", at=44, server_ip=None, geo=US, kind="error")
    refused.update(method="CONNECT", scheme="http", url="gone.example:443")
    # an HTTPS flow imported from a HAR: decrypted by whoever recorded it, no TLS facts here
    har = b.flow("har.example", at=45, server_ip="198.51.100.9", geo=US)
    har["tls"] = {"intercepted": False, "version": None, "failure": None}
    return b.write()


def test_each_flow_is_in_exactly_one_coverage_class(mixed):
    a = analyse([mixed])
    d = a.summary["decryption"]
    assert d["flows"] == len(a.flows) == 14
    assert sum(d.get(c, 0) for c in COVERAGE_CLASSES) == d["flows"]
    assert {c: d.get(c, 0) for c in COVERAGE_CLASSES} == {
        "intercepted": 9, "cleartext": 2, "tls_rejected": 1, "failed": 1, "not_http": 1}
    assert d["coverage_percent"] == round(100 * 11 / 14, 1)
    # the flows table names each flow's class, so a reader can check the sums
    assert a.flows["coverage"].value_counts().to_dict() == {c: d[c] for c in COVERAGE_CLASSES if d[c]}
    by_host = dict(zip(a.flows["host"].fillna(a.flows["server_ip"]), a.flows["coverage"], strict=True))
    assert by_host["down.example"] == "intercepted"
    assert by_host["gone.example"] == "failed"
    assert by_host["198.51.100.8"] == "not_http"
    assert by_host["198.51.100.7"] == "cleartext"


def test_destination_coverage_columns_count_each_flow_once(mixed):
    dest = analyse([mixed]).destinations.set_index("destination")
    assert dest.loc["down.example", ["intercepted", "cleartext", "tls_rejected"]].tolist() == [1, 0, 0]
    assert dest.loc["secure.bank.example.in", ["intercepted", "tls_rejected"]].tolist() == [0, 1]
    assert dest.loc["198.51.100.7", "cleartext"] == 1


def test_only_a_client_side_tls_failure_is_pinned(tmp_path):
    """A TLS handshake that failed on the lab's upstream side is a failure, not the app
    pinning: only the client's rejection counts as tls_rejected (and as the kind `pinned`)."""
    b = CaptureBuilder(tmp_path / "run").vendor_scenario()
    # as addons/flowlog.py records them: the failure's side, and no tls_rejected flag upstream
    b.flow("upstream.example", at=46, server_ip="198.51.100.10", geo=US, kind="tls_failed",
           tls={"intercepted": False, "version": None,
                "failure": {"side": "server", "error": "connection reset", "sni": "upstream.example"}})
    b.flow("old-upstream.example", at=47, server_ip="198.51.100.11", geo=US, kind="tls_failed",
           tls={"intercepted": False, "version": None, "failure": "upstream TLS handshake failed: reset"})
    b.flow("pins.example", at=48, server_ip="198.51.100.12", geo=US, kind="tls_failed",  # no flag: no classifier
           tls={"intercepted": False, "version": None,
                "failure": {"side": "client", "error": "unknown ca", "sni": "pins.example"}})
    a = analyse([b.write()])
    by_host = a.flows.set_index("host")
    assert by_host.loc["upstream.example", "coverage"] == "failed"
    assert by_host.loc["old-upstream.example", "coverage"] == "failed"
    assert by_host.loc["pins.example", "coverage"] == "tls_rejected"
    assert by_host.loc["secure.bank.example.in", "coverage"] == "tls_rejected"  # flagged tls_rejected
    assert by_host.loc["upstream.example", "capture_kind"] == "failed"
    assert by_host.loc["pins.example", "capture_kind"] == "pinned"
    d = a.summary["decryption"]
    assert (d["tls_rejected"], d["failed"]) == (2, 2)
    dest = a.destinations.set_index("destination")
    assert dest.loc["upstream.example", "tls_rejected"] == 0
