import numpy as np
import pandas as pd
import pytest

from features.errors import UnknownCodeError
from features.indicators import (
    PERSON_FIELDS,
    IndicatorConfig,
    ReferenceTables,
    age_band,
    copayment_band,
    derive_features,
    factors,
    persons_with_practice,
    preset,
)


@pytest.fixture(scope="module")
def persons(tiny_dataset):
    return persons_with_practice(tiny_dataset)


@pytest.fixture(scope="module")
def reference(tiny_dataset):
    return ReferenceTables.from_dataset(tiny_dataset)


@pytest.mark.parametrize("name", ["model_2026", "model0_2023"])
def test_a_person_gets_the_same_features_alone_as_inside_the_data_set(persons, reference, name):
    config, _ = preset(name)
    everyone = derive_features(persons, reference, config)
    rng = np.random.default_rng(3)
    for row in rng.choice(len(persons), size=25, replace=False):
        alone = pd.DataFrame([persons.iloc[row][list(PERSON_FIELDS)].to_dict()])
        one = derive_features(alone, reference, config)
        pd.testing.assert_frame_equal(
            one.reset_index(drop=True), everyone.iloc[[row]].reset_index(drop=True)
        )


def test_deriving_features_does_not_modify_the_input(persons, reference):
    before = persons.copy()
    derive_features(persons, reference, IndicatorConfig())
    pd.testing.assert_frame_equal(persons, before)


def test_age_bands_are_closed_below_and_open_at_the_top():
    edges = IndicatorConfig().age_edges
    assert list(age_band(np.array([0, 1, 4, 5, 89, 90, 120]), edges)) == [0, 1, 1, 2, 18, 19, 19]


def test_zero_copayment_is_a_band_of_its_own():
    edges = (250.0, 500.0)
    bands = copayment_band(np.array([0.0, 0.01, 249.99, 250.0, 499.0, 500.0, 3278.0]), edges)
    assert list(bands) == [0, 1, 1, 2, 2, 3, 3]


def test_every_code_has_a_level_label():
    config = IndicatorConfig()
    for factor in factors(config):
        assert len(set(factor.levels)) == len(factor.levels)
    assert factors(config)[0].levels[:4] == ("F 0", "M 0", "F 1-4", "M 1-4")
    assert factors(config)[1].levels[0] == "0"


def test_education_is_classed_against_the_threshold_per_grunnkrets(persons, reference):
    features = derive_features(persons, reference, IndicatorConfig(education_threshold=0.28))
    share = reference.grunnkrets_share.reindex(persons["grunnkrets"]).to_numpy()
    assert (features["education"].to_numpy() == (share > 0.28)).all()
    assert np.allclose(features["education_share"], share)


def test_centrality_follows_the_practice_kommune_in_2026_and_the_residence_in_2023(
    persons, reference
):
    practice = derive_features(persons, reference, preset("model_2026")[0])
    residence = derive_features(persons, reference, preset("model0_2023")[0])
    by_practice = reference.kommune_centrality.reindex(persons["practice_kommune"]).to_numpy()
    by_home = reference.kommune_centrality.reindex(persons["grunnkrets"].str[:4]).to_numpy()
    assert (practice["centrality"].to_numpy() + 1 == by_practice).all()
    assert (residence["centrality"].to_numpy() + 1 == by_home).all()
    assert (by_practice != by_home).any(), "some persons are listed outside their kommune"


def test_unknown_grunnkrets_is_named(persons, reference):
    person = persons.iloc[[0]][list(PERSON_FIELDS)].assign(grunnkrets="99990000")
    with pytest.raises(UnknownCodeError, match="grunnkrets: unknown grunnkrets 99990000"):
        derive_features(person, reference, IndicatorConfig())


def test_unknown_practice_kommune_is_named(persons, reference):
    person = persons.iloc[[0]][list(PERSON_FIELDS)].assign(practice_kommune="9999")
    with pytest.raises(UnknownCodeError, match="practice_kommune: unknown kommune 9999"):
        derive_features(person, reference, IndicatorConfig())


@pytest.mark.parametrize(
    "bad",
    [
        {"age_edges": (5, 10)},
        {"age_edges": (0, 10, 10)},
        {"copayment_edges": (0.0, 100.0)},
        {"education_threshold": 1.5},
        {"education_area": "fylke"},
    ],
)
def test_invalid_configurations_are_refused(bad):
    with pytest.raises(ValueError):
        IndicatorConfig(**bad)
