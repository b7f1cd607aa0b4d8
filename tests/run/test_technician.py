"""The technician at a manual step: asked on a real terminal (a pseudo-terminal here),
Enter confirms with its time, `s` skips, the timeout and the run's stop end the wait;
without a terminal, or with --yes, nothing waits."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest

from harness.run.technician import Absent, AtTerminal, technician_for


@pytest.fixture
def terminal():
    """(stdin of the asker: the pty's slave side as a text file, the master fd to type on)."""
    master, slave = os.openpty()
    stdin = os.fdopen(slave, "r")
    yield stdin, master
    stdin.close()
    os.close(master)


def type_later(master: int, text: bytes, after: float) -> None:
    threading.Timer(after, lambda: os.write(master, text)).start()


def test_enter_confirms_with_its_time(terminal):
    stdin, master = terminal
    out = io.StringIO()
    type_later(master, b"\n", 0.3)
    before = time.time()
    answer = AtTerminal("virtual:vendor-1.0", stdin=stdin, out=out).ask("Insert the SIM card", 10, threading.Event())
    assert answer.confirmed and answer.reason is None
    assert before <= answer.asked < answer.answered <= time.time()
    assert answer.answered - answer.asked >= 0.25
    assert "[virtual:vendor-1.0] >>> Insert the SIM card" in out.getvalue()
    assert "waiting up to 0:10" in out.getvalue()
    assert answer.as_dict()["message"] == "Insert the SIM card"


def test_s_skips(terminal):
    stdin, master = terminal
    type_later(master, b"s\n", 0.1)
    answer = AtTerminal(stdin=stdin, out=io.StringIO()).ask("Sign in", 10, threading.Event())
    assert (answer.confirmed, answer.reason) == (False, "skipped by the technician")
    assert answer.answered is not None


def test_the_timeout_ends_the_wait(terminal):
    stdin, _ = terminal
    started = time.monotonic()
    answer = AtTerminal(stdin=stdin, out=io.StringIO()).ask("Plug it in", 0.6, threading.Event())
    assert 0.5 < time.monotonic() - started < 3
    assert (answer.confirmed, answer.answered, answer.reason) == (False, None, "no confirmation within 0:01")


def test_the_runs_stop_ends_the_wait(terminal):
    stdin, _ = terminal
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    answer = AtTerminal(stdin=stdin, out=io.StringIO()).ask("Plug it in", 60, stop)
    assert time.monotonic() - started < 3
    assert (answer.confirmed, answer.reason) == (False, "the run was interrupted")


def test_a_closed_terminal_is_no_confirmation(terminal):
    stdin, master = terminal
    os.write(master, b"\x04")  # ^D: end of input on the terminal
    answer = AtTerminal(stdin=stdin, out=io.StringIO()).ask("Plug it in", 5, threading.Event())
    assert (answer.confirmed, answer.reason) == (False, "the terminal closed")


def test_who_is_asked(terminal, tmp_path):
    stdin, _ = terminal
    assert isinstance(technician_for(False, stdin), AtTerminal)
    yes = technician_for(True, stdin)
    assert isinstance(yes, Absent) and "--yes" in yes.reason
    with open(tmp_path / "f", "w+") as plain:
        nobody = technician_for(False, plain)
        assert isinstance(nobody, Absent) and "not a TTY" in nobody.reason
    started = time.monotonic()
    answer = nobody.ask("Insert the SIM card", 300, threading.Event())
    assert time.monotonic() - started < 0.5  # never waits
    assert (answer.confirmed, answer.answered) == (False, None) and "not a TTY" in answer.reason
