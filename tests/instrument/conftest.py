"""Fixtures for the instrumentation tests: a tiny JVM "app" with Android's class names."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.jvm_app import compile_tracker, start_tracker, stop_process


@pytest.fixture(scope="session")
def tracker_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.fail("javac and java (Java 17) are needed for the instrumentation tests")
    return compile_tracker(tmp_path_factory.mktemp("tracker-classes"))


@pytest.fixture
def jvm_app(tracker_classes: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """start(mode, imei, *args) -> a running Tracker JVM; killed (by PID) at teardown."""
    started: list[subprocess.Popen[str]] = []

    def start(mode: str, imei: str, *args: str) -> subprocess.Popen[str]:
        process = start_tracker(tracker_classes, mode, imei, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)
