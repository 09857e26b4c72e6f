"""Shared fixtures: one small synthetic data set per test run, and ways to break it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from features import ModelBundle
from features.contract import Dataset, load_dataset, validate_dataset, write_dataset
from features.synth import synthesise
from tests.mlflow_server import mlflow_uris_restored
from tests.spark_session import spark_session  # noqa: F401  (one Spark session per run)
from training.fit import calibrate
from training.gate import GateBounds
from training.pipeline import TrainingOptions

TINY_PERSONS = 20_000
TINY_SEED = 7
# Small synthetic data cannot fill every paid level (its few lists sit in central kommuner), so
# the gate's data checks refuse it. Tests that need its versions to take aliases loosen that one
# bound, with the reason the gate records (``training.gate``).
SMALL_DATA_GATE = {
    # Thin levels allowed, and the first version crowned without a registry snapshot to price.
    "gate": GateBounds(min_level_persons=0, require_snapshot=False),
    "reason": "test on small synthetic data",
}
# The same, as options of ``ptb train`` and ``ptb promote``.
SMALL_DATA_ARGS = (
    *("--min-level-persons", "0", "--no-require-snapshot"),
    *("--reason", "test on small synthetic data"),
)
# Training in tests: two folds, no challengers, the small-data gate; what the registry and serving
# tests need.
FAST_TRAINING = TrainingOptions(folds=2, challengers=False, **SMALL_DATA_GATE)


def trained_registry(root: Path, persons: int, seed: int) -> tuple[str, Path]:
    """A synthetic country written as a snapshot under ``root`` and a registry trained on it
    (``FAST_TRAINING``): the tracking URI and the snapshot's directory."""
    from training.pipeline import train_and_register  # tests may train

    data_dir = write_dataset(synthesise(persons, seed), root / "snapshot")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    train_and_register(
        load_dataset(data_dir, training=True),
        tracking_uri=uri,
        artifact_root=str(root / "artifacts"),
        options=FAST_TRAINING,
    )
    return uri, data_dir


@pytest.fixture(scope="session", autouse=True)
def private_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The default model cache (absolute, shared by the machine) in a folder of this run.

    Set through ``CACHE_DIRECTORY`` (systemd's variable, which the default honours) so that
    service processes a test starts without ``PTB_*`` settings use it too.
    """
    saved = os.environ.get("CACHE_DIRECTORY")
    os.environ["CACHE_DIRECTORY"] = str(tmp_path_factory.mktemp("cache-directory"))
    yield
    if saved is None:
        os.environ.pop("CACHE_DIRECTORY", None)
    else:
        os.environ["CACHE_DIRECTORY"] = saved


@pytest.fixture(scope="session")
def tiny_dataset() -> Dataset:
    """About 20,000 synthetic persons with a fixed seed, validated once for the whole run."""
    return validate_dataset(synthesise(TINY_PERSONS, TINY_SEED), training=True)


@pytest.fixture(scope="session")
def bundle(tiny_dataset: Dataset) -> ModelBundle:
    """model_2026 calibrated on the tiny data set, undampened."""
    return calibrate(tiny_dataset, name="model_2026").bundle


def _edit(dataset: Dataset, table: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Dataset:
    return replace(dataset, **{table: edit(dataset.table(table).copy())})


def _set(table: str, column: str, rows: list[int], value) -> Callable[[Dataset], Dataset]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value
        return frame

    return lambda dataset: _edit(dataset, table, edit)


def _drop_column(table: str, column: str) -> Callable[[Dataset], Dataset]:
    return lambda dataset: _edit(dataset, table, lambda f: f.drop(columns=[column]))


def _duplicate_first_id(table: str, column: str, rows: list[int]) -> Callable[[Dataset], Dataset]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[rows, column] = frame.loc[0, column]
        return frame

    return lambda dataset: _edit(dataset, table, edit)


def _codes_as_numbers(dataset: Dataset) -> Dataset:
    return _edit(
        dataset, "lists", lambda f: f.assign(practice_kommune=f.practice_kommune.astype(int))
    )


# kind -> (how to break the data set, file format, the message the refusal must carry)
BREAKAGES: dict[str, tuple[Callable[[Dataset], Dataset], str, str]] = {
    "age_above_range": (
        _set("persons", "age", [4, 9, 11], 130),
        "parquet",
        r"persons\.age: 3 rows above 120 \(rows 5, 10, 12\)",
    ),
    "age_not_whole": (
        _set("persons", "age", [2], "twelve"),
        "csv",
        r"persons\.age: 1 row not a whole number \(row 3\)",
    ),
    "sex_unknown": (
        _set("persons", "sex", [0, 1], "X"),
        "parquet",
        r'persons\.sex: 2 rows not "F" or "M" \(rows 1, 2\)',
    ),
    "grunnkrets_not_8_digits": (
        _set("persons", "grunnkrets", [7], "0301"),
        "parquet",
        r"persons\.grunnkrets: 1 row not a 8-digit code \(row 8\)",
    ),
    "grunnkrets_unknown": (
        _set("persons", "grunnkrets", [3, 5], "99999999"),
        "parquet",
        r"persons\.grunnkrets: 2 rows not in grunnkretser \(rows 4, 6\)",
    ),
    "list_unknown": (
        _set("persons", "list_id", [6], "NO-SUCH-LIST"),
        "parquet",
        r"persons\.list_id: 1 row not in lists \(row 7\)",
    ),
    "person_id_duplicated": (
        _duplicate_first_id("persons", "person_id", [10]),
        "parquet",
        r"persons\.person_id: 2 rows duplicated \(rows 1, 11\)",
    ),
    "copayment_negative": (
        _set("persons", "copayment_prev_year", [12], -50.0),
        "parquet",
        r"persons\.copayment_prev_year: 1 row below 0 \(row 13\)",
    ),
    "refugee_not_boolean": (
        _set("persons", "refugee_first_year", [1], "maybe"),
        "csv",
        r"persons\.refugee_first_year: 1 row not true or false \(row 2\)",
    ),
    "months_out_of_range": (
        _set("persons", "months_listed", [0], 13),
        "parquet",
        r"persons\.months_listed: 1 row above 12 \(row 1\)",
    ),
    "cost_missing_value": (
        _set("persons", "cost", [2], None),
        "parquet",
        r"persons\.cost: 1 row is empty \(row 3\)",
    ),
    "cost_column_missing": (
        _drop_column("persons", "cost"),
        "parquet",
        r"persons\.cost: required column is missing",
    ),
    "practice_kommune_unknown": (
        _set("lists", "practice_kommune", [0], "9999"),
        "parquet",
        r"lists\.practice_kommune: 1 row not in kommuner \(row 1\)",
    ),
    "practice_kommune_numeric": (
        _codes_as_numbers,
        "parquet",
        r"lists\.practice_kommune: \d+ rows stored as numbers",
    ),
    "centrality_out_of_range": (
        _set("kommuner", "centrality", [2], 7),
        "parquet",
        r"kommuner\.centrality: 1 row above 6 \(row 3\)",
    ),
    "share_out_of_range": (
        _set("grunnkretser", "primary_only_share", [0], 1.2),
        "parquet",
        r"grunnkretser\.primary_only_share: 1 row above 1 \(row 1\)",
    ),
    "kommune_duplicated": (
        _duplicate_first_id("kommuner", "kommune", [5]),
        "parquet",
        r"kommuner\.kommune: 2 rows duplicated \(rows 1, 6\)",
    ),
    "grunnkrets_outside_any_kommune": (
        _set("grunnkretser", "grunnkrets", [0], "98760001"),
        "parquet",
        r"grunnkretser\.grunnkrets: 1 row whose first 4 digits are not in kommuner",
    ),
}


@pytest.fixture
def broken_dataset(tiny_dataset: Dataset, tmp_path: Path) -> Callable[[str], tuple[Path, str]]:
    """Write the tiny data set broken in one way; returns its directory and the expected message."""

    def make(kind: str) -> tuple[Path, str]:
        breakage, fmt, message = BREAKAGES[kind]
        directory = write_dataset(breakage(tiny_dataset), tmp_path / kind, fmt=fmt)
        return directory, message

    return make


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    """``mlflow.set_tracking_uri`` also writes the environment; put both back after each test."""
    with mlflow_uris_restored():
        yield
