"""DuckDB, embedded: the default engine, no server, spills to disk past its memory limit."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa


def _file_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


class DuckDBEngine:
    """One in-process DuckDB connection holding the build's views and tables."""

    name = "duckdb"

    def __init__(self, *, memory_limit: str | None = None, threads: int | None = None):
        self._spill = tempfile.TemporaryDirectory(prefix="ptb-duckdb-")
        config: dict[str, str | bool | int | float | list[str]] = {
            "temp_directory": self._spill.name
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = str(threads)
        # Insertion order stays kept (DuckDB's default): with it off, a streamed or fetched
        # ORDER BY result can arrive out of order.
        self.connection = duckdb.connect(config=config)
        self.connection.execute("SET enable_progress_bar = false")
        # Spark SQL's name for a regular-expression match, so the rules are written once.
        self.connection.execute("CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)")

    def register_files(self, name: str, paths: Sequence[Path], fmt: str) -> None:
        files = _file_list(paths)
        if fmt == "parquet":
            source = f"read_parquet({files}, union_by_name = true)"
        else:
            source = f"read_csv({files}, header = true, all_varchar = true, union_by_name = true)"
        self.connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")  # nosec B608: the product's own SQL and identifiers, no user text

    def register_numbered_file(self, name: str, path: Path, fmt: str) -> None:
        files = _file_list([path])
        if fmt == "parquet":
            sql = (
                "SELECT * EXCLUDE (file_row_number), file_row_number AS row_index "  # nosec B608: the product's own SQL and identifiers, no user text
                f"FROM read_parquet({files}, file_row_number = true)"
            )
        else:
            # Insertion order is kept (DuckDB's default), so OVER () numbers rows as read.
            sql = (
                "SELECT *, row_number() OVER () - 1 AS row_index "  # nosec B608: the product's own SQL and identifiers, no user text
                f"FROM read_csv({files}, header = true, all_varchar = true)"
            )
        self.connection.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.connection.register(f"{name}__frame", frame)
        self.connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}__frame"  # nosec B608: the product's own SQL and identifiers, no user text
        )
        self.connection.unregister(f"{name}__frame")

    def columns(self, name: str) -> list[str]:
        return [row[0] for row in self.connection.execute(f"DESCRIBE {name}").fetchall()]

    def view(self, name: str, sql: str) -> None:
        self.connection.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def table(self, name: str, sql: str) -> None:
        self.connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def fetch(self, sql: str) -> pd.DataFrame:
        # Through Arrow: decimals stay decimals (to the øre), dates stay dates.
        return self.fetch_arrow(sql).to_pandas()

    def fetch_arrow(self, sql: str) -> pa.Table:
        table = self.connection.execute(sql).to_arrow_table()
        assert table is not None  # a query always has a result here
        return table

    def stream(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        reader = self.connection.execute(sql).to_arrow_reader(rows)
        assert reader is not None
        for batch in reader:
            yield batch.to_pandas()

    def close(self) -> None:
        self.connection.close()
        self._spill.cleanup()
