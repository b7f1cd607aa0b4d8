"""Fixtures for the interception tests (tests/addons, tests/proxy): a CA of our own, local servers, flow records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.servers import CANARIES, IMEI, Server, TestCA, make_ca, serve, wait_for  # noqa: F401


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture(scope="module")
def test_ca(workdir: Path) -> TestCA:
    return make_ca(workdir)


@pytest.fixture(scope="module")
def canaries_file(workdir: Path) -> Path:
    path = workdir / "canaries.json"
    path.write_text(json.dumps(CANARIES))
    return path


@pytest.fixture(scope="module")
def https_server(workdir: Path, test_ca: TestCA) -> Iterator[Server]:
    server = serve("127.0.0.7", test_ca.issue(workdir, ["127.0.0.7", "localhost"]))
    yield server
    server.close()


@pytest.fixture(scope="module")
def http_server() -> Iterator[Server]:
    server = serve("127.0.0.6")
    yield server
    server.close()


