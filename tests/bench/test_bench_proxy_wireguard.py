"""The WireGuard proxy bench's figures: latency summary, stalls and slice ratios."""

from __future__ import annotations

import pytest

from bench.bench_proxy_wireguard import slice_ratios, stalled, summary


def test_latency_summary_is_median_and_90th_percentile():
    median, p90 = summary([float(v) for v in range(1, 11)])
    assert median == 5.5
    assert p90 == pytest.approx(9.1)


def test_a_stall_is_a_request_slower_than_the_limit():
    assert stalled([2.5, 41.0, 3.0, 44.2, 20.0]) == 2
    assert stalled([2.5, 3.0], limit=2.9) == 1


def test_ratio_is_base_time_over_audited_time_over_all_slices_and_per_slice():
    audited = [1.0, 2.0, 1.0, 1.0]
    base = [1.0, 1.0, 0.5, 2.0]  # the audited proxy as fast, half as fast, half as fast, twice as fast
    overall, median, low, high = slice_ratios(audited, base)
    assert overall == pytest.approx(4.5 / 5.0)
    assert median == pytest.approx(0.75)
    assert low <= median <= high
    with pytest.raises(ValueError):
        slice_ratios([1.0], [1.0, 2.0])
