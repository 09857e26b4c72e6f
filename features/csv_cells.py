"""CSV for spreadsheets: every file quoted by the ``csv`` module, formula-leading text defused.

Two things go wrong when a CSV export is joined by hand and opened in a spreadsheet:

- a field holding a comma, a quote or a line break shifts or adds cells and rows (a list id
  ``L5\\nFAKE,0301,...`` forged a settlement row); the ``csv`` module quotes such fields;
- a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or their
  full-width forms) is run as a formula (CSV injection). As OWASP recommends, such a cell is
  written with a leading apostrophe, which spreadsheets show as text. A plain number such as
  ``-12.50`` is left as it is: it is no formula, and settlement amounts must stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?\Z")
ROWS_PER_CHUNK = 2_000

Cell = str | int | float | None


def neutralise(cell: Cell) -> Cell:
    """The cell, with an apostrophe in front if it is text a spreadsheet would run as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised; for ``DataFrame.to_csv``."""
    out = frame.copy()
    for name in out.columns:
        if not pd.api.types.is_numeric_dtype(out[name].dtype):
            out[name] = out[name].map(neutralise)
    return out


def csv_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Cell]], rows_per_chunk: int = ROWS_PER_CHUNK
) -> Iterator[str]:
    """The header and rows as CSV text in chunks of rows, quoted and neutralised, for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(name) for name in columns])
    pending = 1
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()
