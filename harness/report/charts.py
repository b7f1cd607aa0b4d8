"""Charts as inline SVG, drawn on the server: no script, no fetch, every label escaped."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

BAR_ROWS = 12
TIMELINE_APPS = 14
TIMELINE_BINS = 120
PALETTE = ("#3b6ea5", "#c0504d", "#9bbb59", "#8064a2", "#4bacc6", "#f79646")


def _fmt(value: float) -> str:
    value = float(value)
    for unit in ("", "k", "M", "G", "T"):
        if abs(value) < 1000:
            return f"{value:.0f}{unit}" if unit == "" or value >= 100 else f"{value:.1f}{unit}"
        value /= 1000.0
    return f"{value:.1f}P"


def bar_chart(df: pd.DataFrame, label: str, value: str, title: str, *, color: str = PALETTE[0]) -> Markup:
    """Horizontal bars of `value` per `label`, the largest BAR_ROWS (the rest summed as 'other')."""
    data = df[[label, value]].copy()
    data = data.sort_values(value, ascending=False)
    if len(data) > BAR_ROWS:
        rest = data.iloc[BAR_ROWS - 1:][value].sum()
        data = pd.concat([data.iloc[:BAR_ROWS - 1],
                          pd.DataFrame({label: [f"other ({len(data) - BAR_ROWS + 1})"], value: [rest]})])
    width, left, row_h = 460, 170, 20
    height = 30 + row_h * max(len(data), 1)
    top = float(data[value].max()) if len(data) else 0.0
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" class="ct">{escape(title)}</text>',
    ]
    if not len(data):
        parts.append('<text x="0" y="40" class="cl">no data</text>')
    for i, (name, val) in enumerate(zip(data[label], data[value], strict=True)):
        y = 26 + i * row_h
        w = 0 if top <= 0 else max(1.0, (width - left - 60) * float(val) / top)
        text = str(name)
        short = text if len(text) <= 26 else text[:24] + "…"
        parts.append(
            f'<g><title>{escape(text)}: {int(val)}</title>'
            f'<text x="{left - 6}" y="{y + 13}" class="cl" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" class="cl">{escape(_fmt(val))}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(flows: pd.DataFrame, reads: pd.DataFrame, steps: pd.DataFrame) -> Markup:
    """Flows (bars, darker = more) and sensitive reads (red marks) per app over time."""
    ts = pd.concat([flows["ts_start"], reads["ts"] if "ts" in reads else pd.Series(dtype=float)]).dropna()
    width, left, row_h = 940, 200, 18
    if ts.empty:
        return Markup('<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="300" height="30">'
                      '<text x="0" y="20" class="cl">no flows</text></svg>')
    t0, t1 = float(ts.min()), float(ts.max())
    span = max(t1 - t0, 1.0)
    counts = flows["app"].value_counts()
    apps = list(counts.index[:TIMELINE_APPS])
    read_apps = [p for p in reads.get("package", pd.Series(dtype=object)).dropna().unique() if p not in apps]
    apps += read_apps[: max(0, TIMELINE_APPS + 4 - len(apps))]
    height = 46 + row_h * len(apps)
    plot_w = width - left - 10
    parts = [
        f'<svg class="chart timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Timeline of flows and reads per app">',
        '<text x="0" y="16" class="ct">Timeline: flows (blue) and sensitive reads (red) per app</text>',
    ]
    if not steps.empty:
        for i, step in enumerate(steps.itertuples(index=False)):
            end = step.end if math.isfinite(step.end) else t1
            x0 = left + plot_w * (max(step.start, t0) - t0) / span
            x1 = left + plot_w * (min(end, t1) - t0) / span
            if x1 <= x0:
                continue
            shade = "#f3f3f3" if i % 2 == 0 else "#e8eef6"
            parts.append(f'<rect x="{x0:.1f}" y="22" width="{x1 - x0:.1f}" height="{height - 40}" fill="{shade}">'
                         f'<title>step {int(step.step)}: {escape(step.kind)} {escape(step.package or "")}</title></rect>')
    edges = np.linspace(t0, t0 + span, TIMELINE_BINS + 1)
    bin_w = plot_w / TIMELINE_BINS
    for i, app in enumerate(apps):
        y = 26 + i * row_h
        label = str(app) if len(str(app)) <= 30 else str(app)[:28] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 12}" class="cl" text-anchor="end">{escape(label)}'
                     f'<title>{escape(app)}</title></text>')
        hist, _ = np.histogram(flows.loc[flows["app"] == app, "ts_start"].dropna(), bins=edges)
        peak = hist.max() if hist.size else 0
        for b in np.nonzero(hist)[0]:
            opacity = 0.35 + 0.65 * math.log1p(hist[b]) / math.log1p(peak)
            parts.append(f'<rect x="{left + b * bin_w:.1f}" y="{y + 2}" width="{max(bin_w - 0.5, 1):.1f}" '
                         f'height="{row_h - 6}" fill="{PALETTE[0]}" fill-opacity="{opacity:.2f}">'
                         f'<title>{int(hist[b])} flow(s)</title></rect>')
        if "package" in reads:
            rts = reads.loc[reads["package"] == app, "ts"].dropna()
            rhist, _ = np.histogram(rts, bins=edges)
            for b in np.nonzero(rhist)[0]:
                x = left + (b + 0.5) * bin_w
                parts.append(f'<path d="M{x:.1f} {y}l4 7l-4 7l-4-7z" fill="{PALETTE[1]}">'
                             f'<title>{int(rhist[b])} sensitive read(s)</title></path>')
    axis_y = height - 14
    parts.append(f'<text x="{left}" y="{axis_y + 10}" class="cl">+0 s</text>')
    parts.append(f'<text x="{width - 10}" y="{axis_y + 10}" class="cl" text-anchor="end">+{span:.0f} s</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
