"""One local Spark session for the whole test run: Spark starts slowly on two cores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def spark_session() -> Iterator:
    """``local[2]``; every Spark test shares it, and ``SparkEngine.connect`` reuses it."""
    from features.extracts.engines.spark import SparkEngine

    session = SparkEngine.builder("local[2]", "ptb tests").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
