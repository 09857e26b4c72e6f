"""CSV exports read back cell for cell, and formula-leading text is defused (OWASP)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from features.csv_cells import csv_chunks, neutralise, neutralise_frame

FORGED_ID = "L5\nFAKE,0301,1,999999999.00,83333333.33,1.000000,1"


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+47 1", "'+47 1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-12.50", "-12.50"),
        ("+3", "+3"),
        ("-1e5", "-1e5"),
        ("Oslo", "Oslo"),
        ("L-5", "L-5"),
        (-12.5, -12.5),
        (None, None),
    ],
)
def test_formula_leading_text_gets_an_apostrophe_and_numbers_stay_numbers(cell, written):
    assert neutralise(cell) == written


def test_a_field_with_a_line_break_and_commas_stays_one_cell():
    rows = [[FORGED_ID, "0301", 10, "1.00"], ["L6", "0301", 3, "-2.00"]]
    text = "".join(csv_chunks(["list_id", "practice_kommune", "persons", "total_nok"], rows))
    parsed = read_back(text)
    assert len(parsed) == 3  # header and two lists: no forged row
    assert parsed[1] == [FORGED_ID, "0301", "10", "1.00"]
    assert parsed[2] == ["L6", "0301", "3", "-2.00"]


def test_chunks_join_to_the_same_file_whatever_their_size():
    rows = [[f"L{i}", "=1+1" if i % 7 == 0 else "x", i] for i in range(50)]
    whole = "".join(csv_chunks(["a", "b", "c"], rows, rows_per_chunk=1_000))
    chunked = list(csv_chunks(["a", "b", "c"], rows, rows_per_chunk=8))
    assert len(chunked) > 5
    assert "".join(chunked) == whole
    assert read_back(whole)[1] == ["L0", "'=1+1", "0"]


def test_a_frame_written_by_pandas_is_neutralised_and_quoted():
    frame = pd.DataFrame(
        {"kommune_name": ["=cmd|' /C calc'!A0", "Bø, i Telemark"], "change_nok": [-5.0, 3.0]}
    )
    text = neutralise_frame(frame).to_csv(index=False)
    assert read_back(text)[1:] == [["'=cmd|' /C calc'!A0", "-5.0"], ["Bø, i Telemark", "3.0"]]
    assert frame["kommune_name"].iloc[0].startswith("=")  # the caller's frame is untouched
