"""harness.proxy.verdicts's pretty_host and pretty_url answer what mitmproxy's do, case by case."""

from __future__ import annotations

import itertools

from mitmproxy.test import tutils

from harness.proxy.verdicts import pretty_host, pretty_url

HOSTS = ["api.example", "127.0.0.1", "::1", "bad_host!", "xn--bcher-kva.example", "Api.Example", "[::1]", ""]
PORTS = [80, 443, 8080, 0]
SCHEMES = [b"http", b"https"]


def _header_variants(host: str, port: int) -> list[str | None]:
    return [None, "", host, f"{host}:{port}", f"{host}:80", f"{host}:443", "other.example", "other.example:9000",
            f"[{host}]:{port}", "bücher.example", "a:b:c", f"{host}:99999"]


def _requests():
    for host, port, scheme in itertools.product(HOSTS, PORTS, SCHEMES):
        for header in _header_variants(host, port):
            for http2 in (False, True):
                request = tutils.treq(scheme=scheme, host=host, port=port, path=b"/p?q=1",
                                      http_version=b"HTTP/2.0" if http2 else b"HTTP/1.1")
                request.headers.pop("Host", None)
                if header is not None:
                    request.headers["Host"] = header
                if http2:
                    request.authority = header or ""
                yield request
    connect = tutils.treq(method=b"CONNECT", host="api.example", port=443, path=b"", authority=b"api.example:443")
    yield connect


def test_same_as_mitmproxy() -> None:
    requests = list(_requests())
    wrong = [
        (r.scheme, r.host, r.port, r.host_header, r.http_version)
        for r in requests
        if (pretty_host(r), pretty_url(r)) != (r.pretty_host, r.pretty_url)
    ]
    assert wrong == []
    assert len(requests) > 1500
    # the shortcut is taken for the usual requests, and parsing only where it must be
    assert {pretty_url(r) for r in requests if r.host == "api.example" and r.host_header == "other.example:9000"} == {
        "http://other.example:9000/p?q=1", "https://other.example:9000/p?q=1"}
