"""Spark SQL: the same rules on ``local[N]`` or any Spark master, for data past one machine.

The build's SQL has no Python functions in it, so executors never start Python: a standalone
cluster only needs Java and the extracts on a path every worker can read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyspark.sql import SparkSession

_LOCK = threading.Lock()


class SparkEngine:
    """A Spark session; every view and table is a temporary view in it."""

    name = "spark"

    def __init__(self, session: SparkSession, *, owns_session: bool = False):
        self.session = session
        self._owns_session = owns_session
        self._cached: list[str] = []

    @classmethod
    def connect(cls, master: str, *, app_name: str = "ptb build") -> SparkEngine:
        """A session on ``master``, stopped again by ``close``; a session already running in
        this process (a notebook's, a platform's) is used as it is and left running."""
        with _LOCK:
            active = SparkSession.getActiveSession()
            if active is not None:
                cls.configure(active)
                return cls(active, owns_session=False)
            session = cls.builder(master, app_name).getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return cls(session, owns_session=True)

    @staticmethod
    def builder(master: str, app_name: str) -> SparkSession.Builder:
        """The session settings the build relies on (UTC dates, Arrow transfers)."""
        cores = master.removeprefix("local[").removesuffix("]")
        partitions = 2 * int(cores) if cores.isdigit() else 16
        return (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )

    @staticmethod
    def configure(session: SparkSession) -> None:
        """The settings the rules rely on, for a session made elsewhere."""
        session.conf.set("spark.sql.session.timeZone", "UTC")
        session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")

    def register_files(self, name: str, paths: Sequence[Path], fmt: str) -> None:
        files = [str(p) for p in paths]
        if fmt == "parquet":
            frame = self.session.read.option("mergeSchema", "true").parquet(*files)
        else:
            # Every column as text, as DuckDB reads it: the contract converts and checks.
            frame = self.session.read.option("header", "true").csv(files)
        frame.createOrReplaceTempView(name)

    def register_numbered_file(self, name: str, path: Path, fmt: str) -> None:
        self.register_files(f"{name}__raw", [path], fmt)
        # Partitions of one file are read in file order and monotonically_increasing_id rises
        # with partition and row, so its rank is the row's position (no Python on executors).
        numbered = self.session.sql(
            f"SELECT *, monotonically_increasing_id() AS row_mono__ FROM {name}__raw"  # nosec B608: the product's own SQL and identifiers, no user text
        )
        numbered.createOrReplaceTempView(f"{name}__mono")
        self.session.sql(
            f"SELECT *, row_number() OVER (ORDER BY row_mono__) - 1 AS row_index FROM {name}__mono"  # nosec B608: the product's own SQL and identifiers, no user text
        ).drop("row_mono__").createOrReplaceTempView(name)

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.session.createDataFrame(frame).createOrReplaceTempView(name)

    def columns(self, name: str) -> list[str]:
        return list(self.session.table(name).columns)

    def view(self, name: str, sql: str) -> None:
        self.session.sql(sql).createOrReplaceTempView(name)

    def table(self, name: str, sql: str) -> None:
        frame = self.session.sql(sql).persist()
        frame.count()  # evaluated once, here, so later steps read the kept rows
        frame.createOrReplaceTempView(name)
        self._cached.append(name)

    def fetch(self, sql: str) -> pd.DataFrame:
        return self.session.sql(sql).toPandas()

    def fetch_arrow(self, sql: str) -> pa.Table:
        return self.session.sql(sql).toArrow()

    def stream(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        buffer: list = []
        frame = self.session.sql(sql)
        columns = frame.columns
        for row in frame.toLocalIterator(prefetchPartitions=True):
            buffer.append(tuple(row))
            if len(buffer) >= rows:
                yield pd.DataFrame.from_records(buffer, columns=columns)
                buffer = []
        if buffer:
            yield pd.DataFrame.from_records(buffer, columns=columns)

    def close(self) -> None:
        for name in self._cached:
            self.session.catalog.dropTempView(name)
        self.session.catalog.clearCache()
        if self._owns_session:
            self.session.stop()
