import numpy as np
import pandas as pd
import pytest

from features.indicators import IndicatorConfig, age_band, factors
from training.calibrate import CapitationRegressor
from training.metrics import r_squared
from training.plots import plot_predictive_ratios, plot_weights
from training.validation import (
    DECILES,
    ValidationReport,
    cross_validate,
    fold_assignment,
    predicted_decile,
    validation_groups,
)

CONFIG = IndicatorConfig()
METRIC_KEYS = {
    "r2",
    "cpm",
    "mape_nok",
    "list_r2",
    "list_cpm",
    "list_mape_pct",
    "list_share_pr_95_105",
    "pr_min",
    "pr_max",
}


def synthetic_population(seed: int, n: int, config: IndicatorConfig = CONFIG):
    """Persons (age, sex, refugee), their features, annual cost, exposure and list."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 100, n)
    sex = np.where(rng.uniform(size=n) < 0.5, "F", "M")
    refugee = rng.uniform(size=n) < 0.05
    persons = pd.DataFrame({"age": age, "sex": sex, "refugee_first_year": refugee})
    share = rng.uniform(0.0, 0.6, n)
    features = pd.DataFrame(
        {
            "age_sex": (age_band(age, config.age_edges) * 2 + (sex == "M")).astype("int16"),
            "health_status": rng.integers(0, len(config.copayment_edges) + 2, n).astype("int16"),
            "education": (share > config.education_threshold).astype("int16"),
            "centrality": rng.integers(0, 6, n).astype("int16"),
        }
    )
    if config.refugee:
        features["refugee"] = refugee.astype("int16")
    features["education_share"] = share
    mean = 400 + 10 * age + 200 * features["health_status"] + 80 * features["centrality"]
    y = rng.gamma(0.8, mean / 0.8)
    weight = rng.integers(1, 13, n) / 12
    list_ids = rng.integers(0, 40, n)
    return persons, features, y, weight, list_ids


@pytest.fixture(scope="module")
def population():
    return synthetic_population(5, 3000)


@pytest.fixture(scope="module")
def tariff_report(population):
    persons, features, y, weight, list_ids = population
    groups = validation_groups(persons, features, factors(CONFIG))
    return cross_validate(
        make_tariff, features, y, weight, groups=groups, list_ids=list_ids, min_persons=100
    )


def make_tariff():
    return CapitationRegressor(indicators=CONFIG)


class RecordingEstimator:
    """Predicts each person's row number and remembers which rows it was fitted and asked on."""

    fitted: list[np.ndarray] = []
    asked: list[np.ndarray] = []

    def fit(self, features, y, weight):
        self.train_rows = features["row"].to_numpy()
        RecordingEstimator.fitted.append(self.train_rows)
        return self

    def predict(self, features):
        rows = features["row"].to_numpy()
        assert not np.isin(rows, self.train_rows).any(), "a person was predicted by own fit"
        RecordingEstimator.asked.append(rows)
        return rows.astype("float64") + 1.0


def test_every_person_is_predicted_once_by_a_model_fitted_without_them():
    n = 103
    features = pd.DataFrame({"row": np.arange(n)})
    y = np.arange(n) + 1.0
    RecordingEstimator.fitted, RecordingEstimator.asked = [], []
    report = cross_validate(
        RecordingEstimator, features, y, np.ones(n), groups=None, list_ids=np.zeros(n), folds=4
    )
    asked = np.concatenate(RecordingEstimator.asked)
    assert len(RecordingEstimator.fitted) == 4
    assert np.array_equal(np.sort(asked), np.arange(n))
    assert np.array_equal(report.out_of_fold, y)


def test_folds_are_balanced_and_seeded():
    fold = fold_assignment(1003, 5, seed=1)
    assert np.bincount(fold).tolist() == [201, 201, 201, 200, 200]
    assert np.array_equal(fold, fold_assignment(1003, 5, seed=1))
    assert not np.array_equal(fold, fold_assignment(1003, 5, seed=2))
    with pytest.raises(ValueError, match="at least 2 folds"):
        fold_assignment(10, 1, seed=0)


class CellMean:
    """A quick estimator for properties of the folds: the weighted mean cost per age-sex cell."""

    def fit(self, features, y, weight):
        cell = features["age_sex"].to_numpy()
        exposure = np.maximum(np.bincount(cell, weight, 64), 1e-9)
        self.mean_ = np.bincount(cell, weight * y, 64) / exposure
        return self

    def predict(self, features):
        return self.mean_[features["age_sex"].to_numpy()]


def test_out_of_fold_predictions_differ_from_in_sample(tariff_report, population):
    _, features, y, weight, _ = population
    in_sample = make_tariff().fit(features, y, weight).predict(features)
    assert isinstance(tariff_report, ValidationReport)
    assert tariff_report.out_of_fold.shape == (len(y),)
    assert np.all(np.isfinite(tariff_report.out_of_fold))
    assert not np.allclose(tariff_report.out_of_fold, in_sample)


def test_out_of_fold_predictions_repeat_for_a_seed(population):
    _, features, y, weight, list_ids = population

    def run(seed):
        report = cross_validate(
            CellMean, features, y, weight, groups=None, list_ids=list_ids, seed=seed
        )
        return report.out_of_fold

    assert np.array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))


def test_report_holds_the_regulators_measures(tariff_report, population):
    persons, features, y, weight, _ = population
    groups = validation_groups(persons, features, factors(CONFIG))
    report = tariff_report
    assert set(report.metrics) >= METRIC_KEYS
    assert all(isinstance(value, float) for value in report.metrics.values())
    # out of sample the fit is worse than in sample but the signal is still found
    in_sample = make_tariff().fit(features, y, weight).predict(features)
    assert 0.0 < report.metrics["r2"] < r_squared(y, in_sample, weight)
    assert report.metrics["pr_min"] <= 1.0 <= report.metrics["pr_max"]
    table = report.predictive_ratios
    assert set(table["group"]) == {*groups.columns, "predicted_decile"}
    deciles = table[table["group"] == "predicted_decile"]
    assert deciles["level"].tolist() == list(DECILES)
    assert np.allclose(deciles["exposure"] / weight.sum(), 0.1, atol=0.01)
    reliable = table[table["persons"] >= 100]["predictive_ratio"]
    assert report.metrics["pr_min"] == reliable.min()


def test_extreme_ratios_ignore_small_groups(population):
    persons, features, y, weight, list_ids = population
    report = cross_validate(
        CellMean, features, y, weight, groups=None, list_ids=list_ids, min_persons=10**6
    )
    assert np.isnan(report.metrics["pr_min"]) and np.isnan(report.metrics["pr_max"])
    assert set(report.predictive_ratios["group"]) == {"predicted_decile"}


def test_predicted_deciles_split_exposure_into_tenths_and_keep_ties_ordered():
    yhat = np.repeat(np.arange(20.0), 50)
    decile = predicted_decile(yhat, np.ones(len(yhat)))
    assert list(decile.categories) == list(DECILES)
    assert np.bincount(decile.codes).tolist() == [100] * 10
    assert np.all(np.diff(decile.codes[np.argsort(yhat, kind="stable")]) >= 0)


def test_validation_groups_label_the_regulators_subgroups():
    persons = pd.DataFrame(
        {
            "age": [0, 25, 89, 95],
            "sex": ["F", "M", "F", "M"],
            "refugee_first_year": [False, True, False, False],
        }
    )
    features = pd.DataFrame(
        {
            "age_sex": [0, 1, 0, 1],
            "health_status": [0, 1, 8, 2],
            "education": [0, 1, 0, 1],
            "centrality": [0, 5, 2, 3],
        },
        dtype="int16",
    )
    groups = validation_groups(persons, features, factors(IndicatorConfig(refugee=False)))
    assert list(groups.columns) == [
        "age_sex",
        "age_sex_10y",
        "sex",
        "health_status",
        "education",
        "centrality",
        "refugee",
    ]
    assert groups["age_sex_10y"].tolist() == ["F 0-9", "M 20-29", "F 80-89", "M 90+"]
    assert list(groups["age_sex_10y"].cat.categories[:2]) == ["F 0-9", "F 10-19"]
    assert groups["sex"].tolist() == ["F", "M", "F", "M"]
    assert groups["health_status"].tolist() == ["0", "0-250", "3000+", "250-500"]
    assert groups["education"].tolist() == ["share <= 0.28", "share > 0.28"] * 2
    assert groups["centrality"].tolist() == ["1", "6", "3", "4"]
    assert groups["refugee"].tolist() == ["no", "first year", "no", "no"]


def test_validation_groups_refuse_codes_outside_the_factor():
    persons = pd.DataFrame({"age": [30], "sex": ["F"], "refugee_first_year": [False]})
    features = pd.DataFrame(
        {"age_sex": [0], "health_status": [0], "education": [0], "centrality": [6]}
    )
    with pytest.raises(ValueError, match="features.centrality"):
        validation_groups(persons, features, factors(CONFIG))


def test_model_without_refugee_factor_still_reports_refugee_ratios():
    config = IndicatorConfig(refugee=False)
    persons, features, y, weight, list_ids = synthetic_population(6, 3000, config)
    assert "refugee" not in features.columns
    groups = validation_groups(persons, features, factors(config))
    report = cross_validate(
        lambda: CapitationRegressor(indicators=config),
        features,
        y,
        weight,
        groups=groups,
        list_ids=list_ids,
        folds=3,
    )
    refugee = report.predictive_ratios.query("group == 'refugee'")
    assert refugee["level"].tolist() == ["no", "first year"]


def test_plots_of_a_validation_run_are_written_as_png(tariff_report, population, tmp_path):
    _, features, y, weight, _ = population
    tariff = make_tariff().fit(features, y, weight)
    mean_cost = np.average(tariff.predict(features), weights=weight)
    weight_table = tariff.weight_table_.assign(
        relative_weight=tariff.weight_table_["effect_nok"] / mean_cost
    )
    for path in (
        plot_weights(weight_table, tmp_path / "weights.png"),
        plot_predictive_ratios(tariff_report.predictive_ratios, tmp_path / "ratios.png"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "model,shown",
    [
        # The rules' six age groups do not add up to 10-year groups: those inform.
        # Centrality classes 1-4 are pooled in the reference: only classes 5 and 6 are the
        # model's own terms, so the pooled classes inform.
        ("model_2026", ["age_sex_10y", "centrality", "predicted_decile", "list_size"]),
        ("model0_2023", ["age_sex_10y", "centrality", "refugee", "predicted_decile", "list_size"]),
        ("model_2026_fine_bands", ["centrality", "predicted_decile", "list_size"]),
    ],
)
def test_the_ratio_plot_shows_the_groups_that_are_not_the_model_s_own_cells(model, shown):
    from features import preset
    from training.validation import informative_groups

    groups = [
        "age_sex",
        "age_sex_10y",
        "sex",
        "health_status",
        "education",
        "centrality",
        "refugee",
    ]
    assert informative_groups(preset(model)[0], [*groups, "predicted_decile", "list_size"]) == shown


def test_list_size_bands_count_the_persons_of_each_list():
    from training.validation import list_size_bands

    bands = list_size_bands(np.array(["a"] * 3 + ["b"] * 600 + ["c"] * 1500))
    assert bands.value_counts().to_dict() == {
        "< 500": 3,
        "500-999": 600,
        "1000-1499": 0,
        "1500+": 1500,
    }
