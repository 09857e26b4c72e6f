"""What an engine offers the build: read files as views, keep results, run a query.

The rules are SQL written once (``features/extracts/sql``, ``features.extracts.checks``); an
engine only knows how to read files, hold a table and return a small result to Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd
import pyarrow as pa

from features.errors import BuildError

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")


class Engine(Protocol):
    """A SQL engine with DuckDB's and Spark SQL's common dialect."""

    name: str

    def register_files(self, name: str, paths: Sequence[Path], fmt: str) -> None:
        """A view over Parquet files, or CSV files with a header read as text."""

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        """A small table from Python (reference tables, calendar months, folds)."""

    def register_numbered_file(self, name: str, path: Path, fmt: str) -> None:
        """A view over one file with ``row_index``: each row's 0-based position in the file."""

    def columns(self, name: str) -> list[str]:
        """The column names of a registered view or table."""

    def view(self, name: str, sql: str) -> None:
        """A named query, evaluated where it is used."""

    def table(self, name: str, sql: str) -> None:
        """A named query evaluated once and kept (in memory or spilled to disk)."""

    def fetch(self, sql: str) -> pd.DataFrame:
        """A query's (small) result in Python."""

    def fetch_arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table: a large result bound for a file, which pandas
        would only slow down (22 M rows of ICPC-2 chapters for the country)."""

    def stream(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        """A query's result in order, ``rows`` at a time, never all in memory at once."""

    def close(self) -> None:
        """Release the engine's resources."""


def open_engine(name: str, *, master: str | None = None, memory_limit: str | None = None) -> Engine:
    """The named engine; Spark connects to ``master`` (``local[2]`` unless given)."""
    if name == "duckdb":
        from features.extracts.engines.duckdb import DuckDBEngine

        if master:
            raise BuildError("--master is a Spark option; DuckDB runs embedded")
        return DuckDBEngine(memory_limit=memory_limit)
    if name == "spark":
        try:
            from features.extracts.engines.spark import SparkEngine
        except ImportError as exc:
            raise BuildError(
                "the Spark engine needs pyspark: pip install 'ptb[spark]' (and Java 17)"
            ) from exc
        return SparkEngine.connect(master or "local[2]")
    raise BuildError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
