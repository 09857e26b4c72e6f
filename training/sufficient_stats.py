"""Cross-validation from a data set on disk: an engine sums, Python solves a few thousand cells.

The additive tariff depends on the persons only through per-cell sufficient statistics
(``training.calibrate.cell_statistics``), and the regulators' fit measures are sums over persons.
So an engine (DuckDB or Spark, ``features.extracts.engines``) computes, from the data set's files:

1. per fold and cell: persons, exposure, sum of w*y and of w*y^2 (first pass);
2. after each fold's tariff is fitted on the other folds' cells, the out-of-fold error sums:
   R², CPM and MAPE sums, predictive-ratio sums per subgroup, list totals (second pass), and the
   exposure-ordered stream that cuts deciles of predicted cost.

The cell codes are not re-implemented in SQL: ``features.indicators.derive_features`` codes every
distinct input value (ages and sexes, copayment amounts, grunnkretser, kommuner) in Python and the
engine joins those small tables, so training and serving keep one definition of the indicators.
Folds are ``training.validation.fold_assignment`` by row, so the result equals the in-memory
``cross_validate`` of the same data set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import TABLES, Dataset, validate_dataset
from features.extracts.engines.base import Engine
from features.indicators import IndicatorConfig, ReferenceTables, derive_features, factors
from training.calibrate import CapitationRegressor
from training.metrics import list_level_fit
from training.validation import (
    DECILES,
    ValidationReport,
    fold_assignment,
    report_metrics,
    validation_groups,
)

GROUPS = ("age_sex", "age_sex_10y", "sex", "health_status", "education", "centrality", "refugee")
STREAM_ROWS = 1_000_000


@dataclass(frozen=True)
class DataSetFiles:
    """The data set's tables on disk, as the engine reads them."""

    directory: Path

    def path(self, table: str) -> tuple[Path, str]:
        for fmt in ("parquet", "csv"):
            candidate = self.directory / f"{table}.{fmt}"
            if candidate.exists():
                return candidate, fmt
        raise FileNotFoundError(f"no {table}.parquet or {table}.csv in {self.directory}")

    def reference(self) -> Dataset:
        """Lists, kommuner and grunnkretser, checked by the data contract (they are small)."""
        frames: dict[str, pd.DataFrame] = {}
        for table in TABLES:
            if table == "persons":
                continue
            path, fmt = self.path(table)
            frames[table] = (
                pd.read_parquet(path)
                if fmt == "parquet"
                else pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            )
        empty = pd.DataFrame(
            {c: pd.Series([], dtype=object) for c in ("person_id", "list_id", "grunnkrets")}
        )
        empty = empty.assign(
            age=pd.Series([], dtype=object),
            sex=pd.Series([], dtype=object),
            copayment_prev_year=pd.Series([], dtype=object),
            refugee_first_year=pd.Series([], dtype=object),
        )
        return validate_dataset(Dataset(persons=empty, **frames))


def _probe(n: int, reference: Dataset, **columns: object) -> pd.DataFrame:
    """``n`` persons alike in everything but ``columns``: to code one input at a time."""
    base: dict[str, object] = {
        "age": np.full(n, 40),
        "sex": np.full(n, "F", dtype=object),
        "grunnkrets": np.full(n, reference.grunnkretser["grunnkrets"].iloc[0], dtype=object),
        "copayment_prev_year": np.zeros(n),
        "refugee_first_year": np.zeros(n, dtype=bool),
        "practice_kommune": np.full(n, reference.lists["practice_kommune"].iloc[0], dtype=object),
    }
    base.update(columns)
    return pd.DataFrame(base)


def code_tables(
    reference: Dataset, config: IndicatorConfig, copayments: np.ndarray
) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """Each factor's level for every distinct value of the input it depends on.

    age_sex (and the 10-year validation group) from age and sex; health_status from the
    copayment; education from the grunnkrets; centrality from the practice kommune or, for a
    model that uses residence, the grunnkrets. Also the display order of each validation
    group's levels, as ``validation_groups`` gives them.
    """
    tables = ReferenceTables.from_dataset(reference)
    model_factors = factors(config)
    ages = np.repeat(np.arange(121), 2)
    sexes = np.tile(np.array(["F", "M"], dtype=object), 121)
    people = _probe(len(ages), reference, age=ages, sex=sexes)
    coded = derive_features(people, tables, config)
    groups = validation_groups(people, coded, model_factors)
    age_sex = pd.DataFrame(
        {
            "age": ages.astype("int64"),
            "sex": sexes.astype(str),
            "age_sex": coded["age_sex"].astype("int64"),
            "age_sex_10y": groups["age_sex_10y"].astype(str),
        }
    )
    copay = np.unique(np.asarray(copayments, dtype="float64"))
    health = derive_features(
        _probe(len(copay), reference, copayment_prev_year=copay), tables, config
    )
    grunnkretser = reference.grunnkretser["grunnkrets"].astype(str).to_numpy(dtype=object)
    area = derive_features(
        _probe(len(grunnkretser), reference, grunnkrets=grunnkretser), tables, config
    )
    kommuner = reference.kommuner["kommune"].astype(str).to_numpy(dtype=object)
    practice = derive_features(
        _probe(len(kommuner), reference, practice_kommune=kommuner), tables, config
    )
    order = {
        name: [str(c) for c in groups[name].cat.categories]
        for name in GROUPS
        if name in groups.columns
    }
    return {
        "code_age_sex": age_sex,
        "code_health": pd.DataFrame(
            {"copayment_prev_year": copay, "health_status": health["health_status"].astype("int64")}
        ),
        "code_area": pd.DataFrame(
            {
                "grunnkrets": grunnkretser.astype(str),
                "education": area["education"].astype("int64"),
                "area_centrality": area["centrality"].astype("int64"),
            }
        ),
        "code_practice": pd.DataFrame(
            {
                "kommune": kommuner.astype(str),
                "practice_centrality": practice["centrality"].astype("int64"),
            }
        ),
    }, order


def _persons_sql(config: IndicatorConfig, columns: list[str]) -> str:
    months = "CAST(p.months_listed AS INT)" if "months_listed" in columns else "12"
    centrality = (
        "g.area_centrality" if config.centrality_of == "residence" else "c.practice_centrality"
    )
    return f"""
        SELECT p.row_index, f.fold, CAST(p.list_id AS STRING) AS list_id,
          a.age_sex, a.age_sex_10y, a.sex, h.health_status, g.education,
          {centrality} AS centrality,
          CAST(CAST(p.refugee_first_year AS BOOLEAN) AS INT) AS refugee,
          {months} AS months,
          CAST({months} AS DOUBLE) / 12.0 AS w,
          CAST(p.cost AS DOUBLE) * 12.0 / {months} AS y
        FROM ds_persons p
        JOIN folds f ON f.row_index = p.row_index
        JOIN code_age_sex a ON a.age = CAST(p.age AS BIGINT) AND a.sex = CAST(p.sex AS STRING)
        JOIN code_health h ON h.copayment_prev_year = CAST(p.copayment_prev_year AS DOUBLE)
        JOIN code_area g ON g.grunnkrets = CAST(p.grunnkrets AS STRING)
        JOIN ds_lists l ON l.list_id = CAST(p.list_id AS STRING)
        JOIN code_practice c ON c.kommune = l.practice_kommune
    """  # nosec B608: the product's own SQL and identifiers, no user text


@dataclass(frozen=True)
class EngineCrossValidation:
    """The out-of-sample report, the per-fold cells and the full-data tariff from the engine."""

    report: ValidationReport
    fold_cells: pd.DataFrame
    regressor: CapitationRegressor


def _fit(cells: pd.DataFrame, names: list[str], config: IndicatorConfig) -> CapitationRegressor:
    summed = cells.groupby(names, sort=True)[
        ["persons", "exposure", "sum_wy", "sum_wyy", "sum_wwyy", "sum_wwy", "sum_ww"]
    ].sum()
    summed = summed.reset_index()
    for name in names:
        summed[name] = summed[name].astype("int16")
    summed["persons"] = summed["persons"].astype("int64")
    ordered = summed[
        ["persons", "exposure", "sum_wy", "sum_wyy", "sum_wwyy", "sum_wwy", "sum_ww", *names]
    ]
    return CapitationRegressor(indicators=config).fit_cells(ordered)


def _decile_sums(batches: Iterator[pd.DataFrame], total_w: float) -> pd.DataFrame:
    """Deciles of predicted cost as ``predicted_decile`` cuts them: exposure-ordered, each
    person at its midpoint; summed while the sorted persons stream past."""
    sums = np.zeros((10, 4))
    carry = 0.0
    for batch in batches:
        w = batch["w"].to_numpy("float64")
        running = np.cumsum(np.concatenate([[carry], w]))[1:]
        carry = float(running[-1]) if len(running) else carry
        decile = np.minimum(((running - w / 2) / total_w * 10).astype("int64"), 9)
        sums[:, 0] += np.bincount(decile, minlength=10)
        sums[:, 1] += np.bincount(decile, weights=w, minlength=10)
        sums[:, 2] += np.bincount(decile, weights=batch["wy"].to_numpy("float64"), minlength=10)
        sums[:, 3] += np.bincount(decile, weights=batch["wyhat"].to_numpy("float64"), minlength=10)
    return pd.DataFrame(
        {
            "level": list(DECILES),
            "persons": sums[:, 0],
            "exposure": sums[:, 1],
            "actual_nok": sums[:, 2],
            "predicted_nok": sums[:, 3],
        }
    )


def _ratio_rows(group: str, sums: pd.DataFrame, levels: list[str]) -> pd.DataFrame:
    by_level = sums.set_index("level").reindex(levels)
    by_level = by_level[by_level["persons"].fillna(0) > 0]
    actual = by_level["actual_nok"].to_numpy("float64")
    predicted = by_level["predicted_nok"].to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(actual > 0, predicted / actual, np.nan)
    return pd.DataFrame(
        {
            "group": group,
            "level": [str(level) for level in by_level.index],
            "persons": by_level["persons"].astype("int64").to_numpy(),
            "exposure": by_level["exposure"].to_numpy("float64"),
            "actual_nok": actual,
            "predicted_nok": predicted,
            "predictive_ratio": ratio,
        }
    )


def _labels(config: IndicatorConfig) -> dict[str, str]:
    """SQL that turns a level code into the label the predictive-ratio table shows."""
    by_name = {f.name: f for f in factors(config)}

    def case(column: str, levels: tuple[str, ...]) -> str:
        whens = " ".join(f"WHEN {column} = {i} THEN '{label}'" for i, label in enumerate(levels))
        return f"CASE {whens} END"

    return {
        "age_sex": case("age_sex", by_name["age_sex"].levels),
        "age_sex_10y": "age_sex_10y",
        "sex": "sex",
        "health_status": case("health_status", by_name["health_status"].levels),
        "education": case("education", by_name["education"].levels),
        "centrality": case("centrality", by_name["centrality"].levels),
        "refugee": "CASE WHEN refugee = 1 THEN 'first year' ELSE 'no' END",
    }


def engine_cross_validate(
    engine: Engine,
    data_dir: str | Path,
    config: IndicatorConfig,
    *,
    folds: int = 5,
    seed: int = 0,
    min_persons: int = 1000,
) -> EngineCrossValidation:
    """``training.validation.cross_validate`` of the tariff, summed by ``engine`` from disk."""
    files = DataSetFiles(Path(data_dir))
    reference = files.reference()
    persons_path, fmt = files.path("persons")
    engine.register_numbered_file("ds_persons", persons_path, fmt)
    engine.register_frame("ds_lists", reference.lists[["list_id", "practice_kommune"]].astype(str))
    n = int(engine.fetch("SELECT COUNT(*) AS n FROM ds_persons").iloc[0]["n"])
    engine.register_frame(
        "folds",
        pd.DataFrame(
            {"row_index": np.arange(n, dtype="int64"), "fold": fold_assignment(n, folds, seed)}
        ),
    )
    copayments = engine.fetch(
        "SELECT DISTINCT CAST(copayment_prev_year AS DOUBLE) AS c FROM ds_persons"
    )["c"].to_numpy("float64")
    tables, order = code_tables(reference, config, copayments)
    for name, table in tables.items():
        engine.register_frame(name, table)
    engine.table("train_persons", _persons_sql(config, engine.columns("ds_persons")))
    names = [f.name for f in factors(config)]
    cells = engine.fetch(
        f"SELECT fold, {', '.join(names)}, COUNT(*) AS persons, SUM(w) AS exposure, "  # nosec B608: the product's own SQL and identifiers, no user text
        f"SUM(w * y) AS sum_wy, SUM(w * y * y) AS sum_wyy, SUM(w * w * y * y) AS sum_wwyy, "
        f"SUM(w * w * y) AS sum_wwy, SUM(w * w) AS sum_ww FROM train_persons "
        f"GROUP BY fold, {', '.join(names)}"
    )
    predictions = []
    for k in range(folds):
        regressor = _fit(cells[cells["fold"] != k], names, config)
        held_out = cells.loc[cells["fold"] == k, names].drop_duplicates().reset_index(drop=True)
        predicted = held_out.assign(fold=k, yhat=regressor.predict(held_out.astype("int16")))
        predictions.append(predicted)
    engine.register_frame("predictions", pd.concat(predictions, ignore_index=True))
    keys = " AND ".join(f"p.{name} = t.{name}" for name in ["fold", *names])
    engine.view("scored", f"SELECT t.*, p.yhat FROM train_persons t JOIN predictions p ON {keys}")  # nosec B608: the product's own SQL and identifiers, no user text
    total_w = float(cells["exposure"].sum())
    mean_y = float(cells["sum_wy"].sum()) / total_w
    sums = engine.fetch(
        f"SELECT SUM(w * (y - yhat) * (y - yhat)) AS sse, SUM(w * ABS(y - yhat)) AS sae, "  # nosec B608: the product's own SQL and identifiers, no user text
        f"SUM(w * (y - {mean_y!r}) * (y - {mean_y!r})) AS sst, "
        f"SUM(w * ABS(y - {mean_y!r})) AS sat FROM scored"
    ).iloc[0]
    labels = _labels(config)
    ratio_tables = []
    for group in GROUPS:
        group_sums = engine.fetch(
            f"SELECT {labels[group]} AS level, COUNT(*) AS persons, SUM(w) AS exposure, "  # nosec B608: the product's own SQL and identifiers, no user text
            f"SUM(w * y) AS actual_nok, SUM(w * yhat) AS predicted_nok FROM scored GROUP BY 1"
        )
        ratio_tables.append(_ratio_rows(group, group_sums, order[group]))
    deciles = _decile_sums(
        engine.stream(
            "SELECT w, w * y AS wy, w * yhat AS wyhat FROM scored ORDER BY yhat, row_index",
            STREAM_ROWS,
        ),
        total_w,
    )
    ratio_tables.append(_ratio_rows("predicted_decile", deciles, list(DECILES)))
    ratios = pd.concat(ratio_tables, ignore_index=True)
    lists = engine.fetch(
        "SELECT list_id, SUM(w) AS exposure, SUM(w * y) AS actual, SUM(w * yhat) AS predicted "
        "FROM scored GROUP BY list_id ORDER BY list_id"
    )
    exposure = lists["exposure"].to_numpy("float64")
    list_fit = list_level_fit(
        lists["list_id"].to_numpy(),
        lists["actual"].to_numpy("float64") / exposure,
        lists["predicted"].to_numpy("float64") / exposure,
        exposure,
    )
    person_fit = {
        "r2": 1.0 - float(sums["sse"]) / float(sums["sst"]),
        "cpm": 1.0 - float(sums["sae"]) / float(sums["sat"]),
        "mape_nok": float(sums["sae"]) / total_w,
    }
    metrics = report_metrics(person_fit, list_fit, ratios, min_persons)
    report = ValidationReport(metrics, ratios, np.empty(0))
    return EngineCrossValidation(report, cells, _fit(cells, names, config))


def validate_on_engine(
    data_dir: str | Path,
    config: IndicatorConfig,
    *,
    engine: str,
    master: str | None = None,
    folds: int = 5,
    seed: int = 0,
) -> ValidationReport:
    """The tariff's out-of-sample report with the sums done by ``engine`` (``ptb train
    --engine``); the engine is opened for it and closed again."""
    from features.extracts.engines.base import open_engine

    running = open_engine(engine, master=master)
    try:
        return engine_cross_validate(running, data_dir, config, folds=folds, seed=seed).report
    finally:
        running.close()
