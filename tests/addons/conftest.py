"""Fixtures for the interception tests: a CA of our own, local servers, flow records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import Server, TestCA, make_ca, serve

from harness.capture import iter_jsonl

IMEI = "490154203237518"
CANARIES = {
    "identifiers": {"imei": IMEI, "wifi_mac": "02:1a:11:f0:c3:9e", "android_id": "9774d56d682e549c"},
    "planted": [{"type": "contact", "id": "contact-1", "value": "CANARYc0ntact7Q"}],
}


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


def wait_for(path: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
    """The first flow record matching `predicate` (records land as flows finish)."""
    deadline = time.monotonic() + timeout
    while True:
        for record in iter_jsonl(path):
            if predicate(record):
                return record
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching record in {path}: {list(iter_jsonl(path))}")
        time.sleep(0.05)
