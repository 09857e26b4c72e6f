"""The reform step by step: each step one change, each calibrated, and a waterfall that adds up."""

from datetime import date

import numpy as np
import pytest

from features.contract import validate_dataset
from features.grants import person_grants
from features.indicators import preset
from features.reform import GROUPINGS, reform_steps, reform_waterfall, step_payments
from features.synth import synthesise
from training.fit import calibrate, calibrate_reform

PAYDAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def dataset():
    return validate_dataset(synthesise(400_000, seed=3), training=True)


@pytest.fixture(scope="module")
def steps(dataset):
    return calibrate_reform(dataset)


@pytest.fixture(scope="module")
def tables(steps, dataset):
    return reform_waterfall(steps, dataset, PAYDAY)


def test_the_chain_runs_from_model0_to_the_2026_rule_one_change_at_a_time():
    chain = reform_steps()
    assert [s.name for s in chain] == [
        "model0_2023",
        "dampening_off",
        "education_by_grunnkrets",
        "centrality_by_practice",
        "utjamning_into_centrality",
        "refugee_rate",
    ]
    first, last = chain[0], chain[-1]
    assert (first.indicators, first.dampening) == preset("model0_2023")
    assert (last.indicators, last.dampening) == preset("model_2026")
    for before, after in zip(chain, chain[1:], strict=False):
        changed = {
            k
            for k, v in before.indicators.model_dump().items()
            if after.indicators.model_dump()[k] != v
        }
        changed |= {"dampening"} if before.dampening != after.dampening else set()
        changed |= {"utjamning"} if before.moves_utjamning != after.moves_utjamning else set()
        assert len(changed) == 1, (after.name, changed)


def test_each_step_has_the_weights_of_its_own_calibration(steps):
    dampening_off, by_grunnkrets = steps[1], steps[2]
    education = [
        b.weight_table.set_index(["factor", "level_code"]).loc[("education", 1), "effect_nok"]
        for b in (dampening_off, by_grunnkrets)
    ]
    assert education[0] != education[1]  # refitted, not relabelled


def test_the_last_step_prices_exactly_as_model_2026(steps, dataset):
    final = calibrate(dataset, name="model_2026").bundle
    np.testing.assert_allclose(
        person_grants(steps[-1], dataset)["grant_nok"],
        person_grants(final, dataset)["grant_nok"],
        atol=1e-6,
    )


def test_the_steps_add_up_to_the_total_change_of_every_list_within_1_nok(tables, steps):
    lists = tables["lists"]
    names = [s.name.removeprefix("reform/") for s in steps][1:]
    rounded = lists[names].round(2).sum(axis=1)
    change = lists["after_nok"].round(2) - lists["before_nok"].round(2)
    assert (rounded - change).abs().max() < 1.0
    for grouping in GROUPINGS:
        table = tables[grouping]
        assert (table[names].sum(axis=1) - table["change_nok"]).abs().max() < 1.0
        assert table["change_nok"].sum() == pytest.approx(lists["change_nok"].sum())


def test_the_utjamning_transfer_shows_winners_and_losers_in_small_kommuner(tables):
    lists = tables["lists"]
    small = lists[lists["size_band"] == "under 5,000"]["utjamning_into_centrality"]
    assert (small > 0.5).any() and (small < -0.5).any()
    by_form = tables["form_of_practice"].set_index("form_of_practice")
    # Salaried GPs never got utjamningstilskudd: they only gain the strengthened supplement.
    assert by_form.loc["salaried", "utjamning_into_centrality"] > 0
    assert by_form.loc["self_employed", "utjamning_into_centrality"] < 0


def test_moving_u_keeps_the_money_apart_from_what_grunntilskudd_saves(steps, dataset):
    before = step_payments(steps[3], dataset, PAYDAY)
    after = step_payments(steps[4], dataset, PAYDAY)
    utjamning = before["utjamningstilskudd_nok"].sum()
    assert utjamning == pytest.approx(steps[4].scheme.utjamning_moved_nok)
    assert after["utjamningstilskudd_nok"].sum() == 0
    ptb_gain = after["ptb_grant_nok"].sum() - before["ptb_grant_nok"].sum()
    assert ptb_gain == pytest.approx(utjamning, abs=1.0)
