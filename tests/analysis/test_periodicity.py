"""Recurring connections from timestamps alone: jitter, missed beats, pauses, two timers to
one destination, bursts, and noise that must not be called a timer."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.periodicity import Period, find_periods, seconds

T0 = 1_790_000_000.0


def timer(period: float, beats: int, *, jitter: float = 0.0, start: float = T0, seed: int = 1,
          cumulative: bool = True) -> np.ndarray:
    """`beats` times `period` apart, each interval (cumulative) or each beat off by up to +/- jitter."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-jitter, jitter, beats)
    if cumulative:
        return start + np.concatenate([[0.0], np.cumsum(period + noise[1:])])
    return start + np.arange(beats) * period + noise


def test_a_jittered_heartbeat_is_found_with_its_period_jitter_and_count():
    (p,) = find_periods(timer(270, 13, jitter=8))
    assert p.beats == 13 and p.missed == 0
    assert p.period == pytest.approx(270, rel=0.02)
    assert 2 < p.jitter < 8  # uniform +/- 8 s: a standard deviation of about 4.6 s
    assert p.describe().startswith("every 270 s +/- ") and p.describe().endswith(", 13 times")


def test_jitter_around_a_fixed_schedule_is_found_too():
    (p,) = find_periods(timer(60, 20, jitter=3, cumulative=False, seed=4))
    assert p.beats == 20 and p.period == pytest.approx(60, rel=0.01)


def test_a_missed_beat_is_a_gap_not_a_new_period():
    times = np.delete(timer(270, 16, jitter=6, seed=2), [3, 8, 9])  # one gap of one, one of two
    (p,) = find_periods(times)
    assert p.beats == 13 and p.missed == 3
    assert p.period == pytest.approx(270, rel=0.02)
    assert "3 missed" in p.describe()


def test_a_long_pause_splits_the_chain_but_the_period_is_said_once():
    first = timer(30, 8, jitter=1, seed=3)
    second = timer(30, 8, jitter=1, seed=5, start=first[-1] + 30 * 20)  # 19 beats missing: a reboot
    (p,) = find_periods(np.concatenate([first, second]))
    assert p.beats == 16 and p.segments == 2 and p.period == pytest.approx(30, rel=0.02)


def test_two_interleaved_timers_to_one_destination_are_both_found():
    fast = timer(60, 40, jitter=2, seed=6)
    slow = timer(270, 9, jitter=5, seed=7, start=T0 + 17)
    periods = find_periods(np.concatenate([fast, slow]))
    assert len(periods) == 2, [p.describe() for p in periods]
    by = sorted(periods, key=lambda p: p.period)
    assert by[0].period == pytest.approx(60, rel=0.02) and by[0].beats >= 38
    assert by[1].period == pytest.approx(270, rel=0.03) and by[1].beats >= 8


def test_two_interleaved_timers_with_missed_beats():
    fast = np.delete(timer(45, 30, jitter=1.5, seed=8), [5, 17])
    slow = np.delete(timer(300, 10, jitter=4, seed=9, start=T0 + 11), [4])
    periods = sorted(find_periods(np.concatenate([fast, slow])), key=lambda p: p.period)
    assert [round(p.period / 15) * 15 for p in periods] == [45, 300]
    assert periods[0].missed == 2 and periods[1].missed == 1


def test_a_burst_of_connections_is_one_beat():
    beats = timer(20, 10, jitter=0.5, seed=10)
    times = np.concatenate([beats, beats + 0.2, beats + 0.35])  # connect, request, retry
    (p,) = find_periods(times)
    assert p.beats == 10 and p.period == pytest.approx(20, rel=0.02)


def test_random_connections_are_no_timer():
    rng = np.random.default_rng(11)
    for seed in range(5):
        times = T0 + np.sort(np.random.default_rng(seed).uniform(0, 3600, 120))
        assert find_periods(times) == [], seed
    dense = T0 + np.cumsum(rng.exponential(3.0, 500))
    assert find_periods(dense) == []


def test_a_timer_among_sparse_other_connections_is_still_found():
    beats = timer(120, 25, jitter=3, seed=12)
    others = T0 + np.random.default_rng(13).uniform(0, 3000, 12)
    (p,) = find_periods(np.concatenate([beats, others]))
    assert p.period == pytest.approx(120, rel=0.02) and p.beats >= 24


def test_too_few_beats_order_and_bad_values():
    assert find_periods([]) == []
    assert find_periods(timer(10, 3)) == []
    times = list(timer(10, 6))[::-1] + [float("nan"), float("inf")]
    (p,) = find_periods(times)
    assert p.beats == 6 and p.period == pytest.approx(10)
    assert p.jitter == pytest.approx(0, abs=1e-6)
    assert isinstance(p, Period) and p.times == tuple(sorted(p.times))


@pytest.mark.parametrize(("value", "text"), [(270.4, "270"), (4.0, "4"), (4.52, "4.5"), (0.31, "0.31"),
                                             (0.0, "0")])
def test_seconds_read_as_a_person_says_them(value, text):
    assert seconds(value) == text
