"""The curated CSV tables the harness ships and a lab may extend (organisations,
requirements, trackers): `#` lines are comments, the first row names the columns, and
every row has them all. A bad table is a ConfigError naming its row."""

from __future__ import annotations

import csv
import io

from harness.errors import ConfigError


def csv_rows(text: str, header: list[str], origin: str, *,
             header_optional: bool = False) -> list[tuple[int, list[str]]]:
    """(row number, stripped cells) of each data row; numbers count the non-comment rows
    from 1 (the header), so they match what an editor shows once comments are skipped."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    start = 0
    if rows and [c.strip() for c in rows[0]] == header:
        start = 1
    elif not header_optional:
        raise ConfigError(f"{origin}: the first row must be {','.join(header)}")
    out = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if len(row) != len(header):
            raise ConfigError(f"{origin}: row {number}: expected {len(header)} columns "
                              f"({','.join(header)}), got {len(row)}")
        out.append((number, [cell.strip() for cell in row]))
    return out
