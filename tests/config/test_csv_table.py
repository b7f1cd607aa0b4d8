"""The one reader of the curated CSV tables (organisations, requirements, trackers)."""

import pytest

from harness.config.csv_table import csv_rows
from harness.errors import ConfigError

HEADER = ["a", "b"]


def test_rows_skip_comments_and_keep_numbers_editors_show():
    text = "# a comment\na,b\n\n x , y \n# another\n\"q,1\",z\n"
    assert csv_rows(text, HEADER, "t.csv") == [(2, ["x", "y"]), (3, ["q,1", "z"])]


def test_a_missing_header_is_an_error_unless_it_is_optional():
    with pytest.raises(ConfigError, match="t.csv: the first row must be a,b"):
        csv_rows("x,y\n", HEADER, "t.csv")
    assert csv_rows("x,y\n", HEADER, "t.csv", header_optional=True) == [(1, ["x", "y"])]


def test_a_row_of_the_wrong_width_names_its_row():
    with pytest.raises(ConfigError, match=r"t.csv: row 3: expected 2 columns \(a,b\), got 3"):
        csv_rows("a,b\nx,y\nx,y,z\n", HEADER, "t.csv")
