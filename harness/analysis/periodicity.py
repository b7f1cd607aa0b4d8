"""Recurring connections: their period, jitter and count, from timestamps alone.

Firmware phones home on timers (a heartbeat every ~4.5 minutes while idle, a config
check every hour): `find_periods(times)` finds such timers among a destination's
connection times, with no other knowledge of them.

- Connections closer than `burst` seconds are one beat (a connect and its request, a
  retry, the DNS look-up before it).
- A beat that did not come (the handset slept, a request was lost) is a gap in the
  chain, not a new period: a chain may skip up to MAX_GAP - 1 beats in a row, and
  counts them as `missed`. A longer pause (a reboot) splits the chain; chains of one
  period are merged again afterwards, so the period is still said once.
- Two timers to one destination (a heartbeat and a slower config check, interleaved)
  are found one after the other: the strongest chain is taken out, then the rest is
  searched again.
- A chain counts only if the destination's other connections could hardly have made it
  by luck (see `_chance`): noise is no timer.

The period is the chain's span divided by its beats and missed beats; the jitter is the
standard deviation of the intervals' deviations from it (each interval of k periods
scaled by 1/sqrt(k), as a timer's jitter adds up over skipped beats). Everything is
numpy; a destination of 100,000 connections takes a fraction of a second.

`recurring_frame(flows, bypassed)` applies it to each destination of each run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

BURST = 1.0  # seconds: closer connections are one beat
MIN_BEATS = 4  # beats (so three intervals) before anything is called recurring
MAX_GAP = 4  # a chain may jump at most this many periods (three missed beats in a row)
REL_TOL = 0.2  # a beat may come this fraction of the period early or late (times sqrt(k))
MAX_JITTER = 0.06  # jitter above this fraction of the period is no timer (chance
# chains spread over the search window: about REL_TOL / sqrt(3))
LAGS = 6  # candidate periods: differences from each beat to its next LAGS beats
BIN = 0.04  # width of the histogram of those differences, on a log scale (4 %)
CANDIDATES = 6  # the most frequent candidate periods tried in each round
MAX_PERIODS = 4  # timers looked for per destination
MAX_SEGMENTS = 8  # chains of one timer, split by pauses (reboots, sleep)
CHANCE = 0.1  # other connections expected near a beat: above this, a chain may be theirs
MIN_WINDOW = 0.5  # seconds: the narrowest window around a beat
OUTLIER = 3.0  # robust deviations (MAD) beyond which a beat is another connection


@dataclass(frozen=True)
class Period:
    """One timer: `period` and `jitter` in seconds, `beats` seen, `missed` in between."""

    period: float
    jitter: float
    beats: int
    missed: int
    first: float
    last: float
    segments: int = 1  # chains of this period, split by pauses longer than MAX_GAP periods
    times: tuple[float, ...] = ()  # the beats' times

    def describe(self) -> str:
        """`every 270 s +/- 8 s, 13 times` (and the missed beats and pauses, if any)."""
        text = f"every {seconds(self.period)} s +/- {seconds(self.jitter)} s, {self.beats} times"
        notes = []
        if self.missed:
            notes.append(f"{self.missed} missed")
        if self.segments > 1:
            notes.append(f"{self.segments - 1} pause(s)")
        return text + (f" ({', '.join(notes)})" if notes else "")


def seconds(value: float) -> str:
    """A duration as a person reads it: 270, 4.5, 0.31, 0."""
    if value >= 10:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def find_periods(times: Sequence[float] | np.ndarray, *, burst: float = BURST,
                 min_beats: int = MIN_BEATS) -> list[Period]:
    """The timers among connection times (epoch seconds, any order), most beats first."""
    t = np.asarray(times, dtype=float)
    t = np.sort(t[np.isfinite(t)])
    if len(t) < min_beats:
        return []
    t = _beats(t, burst)
    min_period = 2 * burst
    found: list[Period] = []
    remaining = t
    while len(remaining) >= min_beats and len(found) < MAX_PERIODS:
        best: tuple[Period, np.ndarray] | None = None
        for candidate in _candidates(remaining, min_period, min_beats):
            timer = _timer(remaining, candidate, min_beats)
            if timer is None:
                continue
            if best is None or (timer[0].beats, -timer[0].jitter / timer[0].period) > (
                    best[0].beats, -best[0].jitter / best[0].period):
                best = timer
                if timer[0].beats == len(remaining):  # every beat is this timer's
                    break
        if best is None:
            break
        found.append(best[0])
        remaining = np.delete(remaining, best[1])
    return sorted(_merged(found), key=lambda p: (-p.beats, p.period))


def _timer(t: np.ndarray, period: float, min_beats: int) -> tuple[Period, np.ndarray] | None:
    """The chains of beats `period` apart in `t` (one, or several split by pauses), as one
    timer with the indices of its beats; None if no chain stands out from the rest."""
    left = np.arange(len(t))
    segments: list[tuple[Period, np.ndarray]] = []
    while len(left) >= min_beats and len(segments) < MAX_SEGMENTS:
        chain, gaps = _chain(t[left], period)
        result = _fit(t[left], chain, gaps, min_beats) if len(chain) >= min_beats else None
        if result is None or any(result[0].first <= p.last and p.first <= result[0].last for p, _ in segments):
            break  # segments are a timer's stretches between pauses: one after the other
        fitted, chain = result
        segments.append((fitted, left[chain]))
        left = np.delete(left, chain)
    background = len(left)
    kept = [(p, idx) for p, idx in segments if not _chance(p, background, t)]
    if not kept:
        return None
    merged = _merged([p for p, _ in kept])
    if len(merged) != 1:  # the segments drifted apart: keep the strongest alone
        kept = [max(kept, key=lambda s: s[0].beats)]
        merged = [kept[0][0]]
    return merged[0], np.concatenate([idx for _, idx in kept])


def _beats(t: np.ndarray, burst: float) -> np.ndarray:
    """The first time of each burst (times closer than `burst` to the one before)."""
    keep = np.ones(len(t), dtype=bool)
    keep[1:] = np.diff(t) >= burst
    return t[keep]


def _candidates(t: np.ndarray, min_period: float, min_beats: int) -> list[float]:
    """Periods worth trying: the peaks of a histogram (bins BIN wide on a log scale) of the
    differences between nearby beats, most frequent first."""
    diffs = np.concatenate([t[lag:] - t[:-lag] for lag in range(1, min(LAGS, len(t) - 1) + 1)])
    diffs = diffs[diffs >= min_period]
    if not len(diffs):
        return []
    bins = np.floor(np.log(diffs) / BIN).astype(np.int64)
    keys, counts = np.unique(bins, return_counts=True)
    count = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    score = {k: count.get(k - 1, 0) + c + count.get(k + 1, 0) for k, c in count.items()}
    peaks = [k for k, v in score.items()
             if v >= min_beats - 1 and v >= score.get(k - 1, 0) and v > score.get(k + 1, 0)]
    peaks.sort(key=lambda k: -score[k])
    return [float(np.median(diffs[np.abs(bins - k) <= 1])) for k in peaks[:CANDIDATES]]


def _chain(t: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """The longest chain of beats `period` apart (gaps of up to MAX_GAP periods): the
    beats' indices in `t`, and the number of periods each step spans."""
    n = len(t)
    succ = np.full(n, -1, dtype=np.int64)
    step = np.zeros(n, dtype=np.int64)
    for k in range(MAX_GAP, 0, -1):  # the smallest k that fits wins: written last
        target = t + k * period
        tol = REL_TOL * period * math.sqrt(k)
        right = np.clip(np.searchsorted(t, target), 0, n - 1)
        left = np.clip(right - 1, 0, n - 1)
        nearest = np.where(np.abs(t[left] - target) < np.abs(t[right] - target), left, right)
        ok = (np.abs(t[nearest] - target) <= tol) & (nearest > np.arange(n))
        succ[ok] = nearest[ok]
        step[ok] = k
    length = [1] * n
    missed = [0] * n
    succ_list = succ.tolist()
    step_list = step.tolist()
    for i in range(n - 1, -1, -1):
        s = succ_list[i]
        if s >= 0:
            length[i] = length[s] + 1
            missed[i] = missed[s] + step_list[i] - 1
    lengths = np.asarray(length)
    score = lengths * (MAX_GAP + 1) * n - np.asarray(missed)  # most beats, then fewest missed
    i = int(np.argmax(score))
    chain = []
    gaps = []
    while i >= 0:
        chain.append(i)
        if succ_list[i] >= 0:
            gaps.append(step_list[i])
        i = succ_list[i]
    return np.asarray(chain, dtype=np.int64), np.asarray(gaps, dtype=np.int64)


def _fit(t: np.ndarray, chain: np.ndarray, gaps: np.ndarray,
         min_beats: int) -> tuple[Period, np.ndarray] | None:
    """Period and jitter of a chain, with the indices of the beats kept; None when it is
    too irregular to be a timer. A connection that took a beat's place (its interval in
    and its interval out both far off, in opposite directions) is dropped first."""
    chain, gaps = _without_intruders(t, chain, gaps)
    times = t[chain]
    total = int(gaps.sum())
    missed = total - len(gaps)
    if len(chain) < min_beats + missed or missed * 2 > len(chain):  # as many gaps as beats: no timer
        return None
    period = float(times[-1] - times[0]) / total
    deviation = (np.diff(times) - gaps * period) / np.sqrt(gaps)
    jitter = float(np.sqrt(np.mean(deviation ** 2))) if len(deviation) else 0.0
    if jitter > MAX_JITTER * period:
        return None
    return Period(period, jitter, len(chain), missed, float(times[0]), float(times[-1]),
                  times=tuple(float(x) for x in times)), chain


def _without_intruders(t: np.ndarray, chain: np.ndarray, gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The chain without beats that stand out: interior ones whose intervals in and out
    deviate by more than OUTLIER robust deviations in opposite directions (another
    connection near where a beat was due), and a first or last one far off."""
    chain, gaps = chain.copy(), gaps.copy()
    for _ in range(len(chain)):
        if len(chain) < 3:
            break
        times = t[chain]
        period = float(times[-1] - times[0]) / int(gaps.sum())
        dev = (np.diff(times) - gaps * period) / np.sqrt(gaps)
        spread = max(1.4826 * float(np.median(np.abs(dev))), 0.005 * period, MIN_WINDOW / 10)
        far = np.abs(dev) > OUTLIER * spread
        pair = far[:-1] & far[1:] & (np.sign(dev[:-1]) != np.sign(dev[1:]))
        if pair.any():
            j = int(np.argmax(np.where(pair, np.abs(dev[:-1]) + np.abs(dev[1:]), -1.0)))
            chain = np.delete(chain, j + 1)
            gaps = np.concatenate([gaps[:j], [gaps[j] + gaps[j + 1]], gaps[j + 2:]])
        elif far[0] or far[-1]:
            end = 0 if (far[0] and (not far[-1] or abs(dev[0]) >= abs(dev[-1]))) else -1
            chain = np.delete(chain, end)
            gaps = np.delete(gaps, end)
        else:
            break
    return chain, gaps


def _chance(period: Period, background: int, t: np.ndarray) -> bool:
    """Whether the connections that are not this timer's are so dense that some would
    fall near its beats anyway (the expected number of them within two jitters of a
    beat, at their average rate, is above CHANCE): then the chain may be their making."""
    if background <= 0:
        return False
    span = float(t[-1] - t[0]) or 1.0
    window = 2 * max(2 * period.jitter, MIN_WINDOW)
    return background / span * window > CHANCE


def _merged(found: list[Period]) -> list[Period]:
    """Chains of one period (split by a pause) as one timer."""
    out: list[Period] = []
    for p in sorted(found, key=lambda p: p.period):
        last = out[-1] if out else None
        if last is not None and abs(p.period - last.period) <= REL_TOL * min(p.period, last.period) / 2:
            beats = last.beats + p.beats
            period = (last.period * last.beats + p.period * p.beats) / beats
            jitter = math.sqrt((last.jitter ** 2 * last.beats + p.jitter ** 2 * p.beats) / beats)
            out[-1] = Period(period, jitter, beats, last.missed + p.missed, min(last.first, p.first),
                             max(last.last, p.last), last.segments + p.segments,
                             tuple(sorted(last.times + p.times)))
        else:
            out.append(p)
    return out


RECURRING_COLUMNS = ["run_id", "destination", "recurrence", "period_s", "jitter_s", "beats", "missed",
                     "apps", "phases", "first_seen", "last_seen"]


def recurring_frame(flows: pd.DataFrame, bypassed: pd.DataFrame | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The timers of each destination of each run, from its flows' start times and the
    connections that bypassed the proxy: one row per timer, with the apps and phases of
    its beats, most beats first; and for each flow, the timer it is a beat of (its
    `recurrence`, or "")."""
    parts = [flows.reindex(columns=["run_id", "destination", "ts_start", "app", "phase"])
             .assign(_flow=np.arange(len(flows)))]
    if bypassed is not None and len(bypassed):
        parts.append(pd.DataFrame({"run_id": bypassed["run_id"], "destination": bypassed["destination"],
                                   "ts_start": bypassed["ts"], "app": bypassed["app"], "phase": None, "_flow": -1}))
    events = pd.concat(parts, ignore_index=True).dropna(subset=["ts_start"])
    rows = []
    of_flow = np.full(len(flows), "", dtype=object)
    sizes = events.groupby(["run_id", "destination"], sort=False)["ts_start"].transform("size")
    for (run_id, destination), g in events[sizes >= MIN_BEATS].groupby(["run_id", "destination"], sort=True):
        ts = g["ts_start"].to_numpy(dtype=float)
        for p in find_periods(ts):
            beats = np.asarray(p.times)
            near = np.clip(np.searchsorted(beats, ts, side="right"), 1, len(beats)) - 1
            member = (ts >= beats[near]) & (ts - beats[near] < BURST)  # a beat and its burst
            text = p.describe()
            flow_rows = g["_flow"].to_numpy()[member]
            of_flow[flow_rows[flow_rows >= 0]] = text
            rows.append({
                "run_id": run_id, "destination": destination, "recurrence": text,
                "period_s": round(p.period, 3), "jitter_s": round(p.jitter, 3), "beats": p.beats,
                "missed": p.missed, "apps": _distinct(g["app"].to_numpy(dtype=object)[member]),
                "phases": _distinct(g["phase"].to_numpy(dtype=object)[member]),
                "first_seen": p.first, "last_seen": p.last,
            })
    out = pd.DataFrame(rows, columns=RECURRING_COLUMNS)
    out = out.sort_values(["beats", "destination"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return out, of_flow


def _distinct(values: np.ndarray) -> str:
    """The distinct non-empty values, in order of first appearance, joined."""
    return ", ".join(v for v in pd.unique(values) if isinstance(v, str) and v)
