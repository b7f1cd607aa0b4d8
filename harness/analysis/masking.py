"""Masking sensitive values in text: what a masked report and a capture's Parquet export
show instead of a canary or device identifier (masked_texts.py says which texts those
are, in every form and encoding).

A masked value keeps its first two and last two characters, the middle always four
stars, so equal values mask equally and lengths are not told.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Columns whose values come from closed sets the harness itself writes: never masked.
CLOSED_COLUMNS = frozenset({
    "run_id", "scheme", "method", "http_version", "kind", "country", "country_confidence",
    "org_country", "attribution_method", "attribution_confidence", "flags", "step_kind", "severity",
    "encoding", "encodings", "finding_type", "data_type", "canary_id", "link", "tls_version",
    "country_sources", "category", "attribution",
})


def mask_value(value: str) -> str:
    if len(value) <= 6:
        return "*" * len(value)
    return f"{value[:2]}****{value[-2:]}"


def mask_whole(value: Any) -> Any:
    """A value a hook read, masked whole (it is sensitive even when no canary names it);
    a value already masked stays as it is."""
    text = str(value)
    return text if "****" in text or set(text) == {"*"} else mask_value(text)


class Masker:
    """Replaces every occurrence of the given sensitive values inside text, in any case
    (the values come in every form and encoding: analysis/masked_texts.py)."""

    def __init__(self, values: list[str], reveal: bool = False):
        values = sorted({v for v in values if isinstance(v, str) and len(v) >= 4}, key=len, reverse=True)
        self.reveal = reveal or not values
        self._pattern = (None if self.reveal else
                         re.compile("|".join(re.escape(v) for v in values), re.IGNORECASE))

    def text(self, value: Any) -> Any:
        if self._pattern is None or not isinstance(value, str):
            return value
        return self._pattern.sub(lambda m: mask_value(m.group(0)), value)

    def tree(self, value: Any) -> Any:
        """Every string (keys too) of nested dicts and lists masked."""
        if isinstance(value, dict):
            return {self.tree(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return self.text(value)

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        if self._pattern is None or df.empty:
            return df
        out = df.copy()
        for col in out.columns:
            if col in CLOSED_COLUMNS:
                continue
            series = out[col]
            if not (pd.api.types.is_string_dtype(series) or series.dtype == object):
                continue
            try:
                arr = pa.array(series, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = pa.array(series.astype(object).map(lambda v: v if v is None or isinstance(v, str) else str(v)),
                               from_pandas=True)
            if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
                continue
            hit = pc.fill_null(pc.match_substring_regex(arr, self._pattern.pattern, ignore_case=True), False)
            if not pc.any(hit).as_py():
                continue
            mask = hit.to_numpy(zero_copy_only=False)
            text = series.astype(object)
            out[col] = text.where(~mask, text[mask].map(self.text))
        return out
