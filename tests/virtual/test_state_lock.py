"""The state lock: re-entrant, and set down entirely while its holder waits."""

from __future__ import annotations

import threading

import pytest

from harness.virtual.state_lock import StateLock


def _other_thread_gets(lock: StateLock) -> bool:
    got: list[bool] = []

    def take() -> None:
        taken = lock.acquire(timeout=0.2)
        if taken:
            lock.release()
        got.append(taken)

    t = threading.Thread(target=take)
    t.start()
    t.join(5)
    return got == [True]


def test_released_sets_down_every_hold_and_takes_them_back() -> None:
    lock = StateLock()
    with lock, lock:  # a command inside `sh -c`: held twice by this thread
        assert not _other_thread_gets(lock)
        with lock.released():
            assert _other_thread_gets(lock)
        assert not _other_thread_gets(lock)
        lock.release()  # still held once more: the depth came back whole
        assert not _other_thread_gets(lock)
        lock.acquire()
    assert _other_thread_gets(lock)


def test_released_without_a_hold_is_a_no_op_and_release_checks_the_owner() -> None:
    lock = StateLock()
    with lock.released():
        assert _other_thread_gets(lock)
    with pytest.raises(RuntimeError):
        lock.release()
    with lock:
        pass
    assert _other_thread_gets(lock)
