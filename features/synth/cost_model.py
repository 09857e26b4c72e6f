"""The synthetic population's cost model: what a listed person is expected to cost, and draws.

Documented in ``docs/cost-model.md``; every constant is read from
``features/reference/synth_cost_model.yaml``. The expected annual cost is

    mu = a(age, sex) * h + education_nok * [primary_only_share > threshold]
         + centrality_nok[practice centrality class] + refugee_nok * refugee_first_year

with ``h`` a persistent personal health level that also drives last year's copayments, so the
tariff's additive supplements can be checked against known NOK.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from features.synth.parameters import by_centrality_class, load_parameters


def _by_sex(mapping: dict, male: np.ndarray) -> np.ndarray:
    return np.where(male, float(mapping["M"]), float(mapping["F"]))


def _age_curve(age: np.ndarray, male: np.ndarray, curve: dict) -> np.ndarray:
    """a(age, sex) in NOK per year at h = 1; smooth in single-year age (formula in the docs)."""
    x = np.asarray(age, dtype=np.float64)
    ageing = expit((x - curve["ageing_mid_age"]) / curve["ageing_scale_years"])
    oldest = expit((x - curve["oldest_mid_age"]) / curve["oldest_scale_years"])
    fertile = expit((x - curve["fertile_onset_age"]) / curve["fertile_onset_scale_years"])
    fertile *= np.exp(-0.5 * ((x - curve["fertile_peak_age"]) / curve["fertile_sd_years"]) ** 2)
    return (
        _by_sex(curve["base_nok"], male)
        + _by_sex(curve["infant_nok"], male) * np.exp(-x / curve["infant_decay_years"])
        + _by_sex(curve["fertile_nok"], male) * fertile
        + _by_sex(curve["ageing_nok"], male) * ageing * (1.0 - curve["oldest_drop"] * oldest)
    )


def age_cost_curve(age: np.ndarray, sex: np.ndarray, parameters: dict | None = None) -> np.ndarray:
    """a(age, sex): expected GP claims in NOK per year of a person of average health (h = 1).

    ``age`` in whole years (0-120), ``sex`` "F" or "M". High for infants, lowest for teenagers
    and young men, higher for women of fertile age, rising steeply from 50 to 90.
    """
    curve = (parameters or load_parameters())["cost_model"]["age_curve"]
    return _age_curve(np.asarray(age), np.asarray(sex) == "M", curve)


def expected_annual_cost(
    age: np.ndarray,
    sex: np.ndarray,
    health: np.ndarray,
    primary_only_share: np.ndarray,
    practice_centrality: np.ndarray,
    refugee_first_year: np.ndarray,
    parameters: dict | None = None,
) -> np.ndarray:
    """The true annual expected cost mu_i in NOK per year of listing.

    mu = a(age, sex) * h + education_nok * [primary_only_share > threshold]
         + centrality_nok[practice centrality] + refugee_nok * refugee_first_year.
    A person listed m months has expected claims mu * m / 12.
    """
    model = (parameters or load_parameters())["cost_model"]
    health_part = _age_curve(np.asarray(age), np.asarray(sex) == "M", model["age_curve"])
    health_part = health_part * np.asarray(health, dtype=np.float64)
    refugee = np.asarray(refugee_first_year, dtype=bool)
    return health_part + _additive_effects(
        np.asarray(primary_only_share), np.asarray(practice_centrality), refugee, model
    )


def _additive_effects(share, centrality, refugee, model: dict) -> np.ndarray:
    education = np.where(share > model["education_threshold"], float(model["education_nok"]), 0.0)
    return (
        education
        + by_centrality_class(model["centrality_nok"], centrality)
        + refugee * float(model["refugee_nok"])
    )


def _claims(rng, contacts_rate: np.ndarray, mean_nok: float, shape: float) -> np.ndarray:
    """NOK of a year's contacts: N ~ Poisson(rate), claims ~ Gamma(N * shape, mean / shape)."""
    contacts = rng.poisson(contacts_rate)
    return rng.gamma(contacts * shape, mean_nok / shape)


def draw_costs(persons: dict, share: np.ndarray, practice_class: np.ndarray, params: dict, rng):
    """Last year's copayment and this year's claims from one persistent health level h_i."""
    model, copay = params["cost_model"], params["copayment"]
    draw = rng["costs"]
    n_persons = len(persons["age"])
    age = persons["age"]
    health = draw.gamma(model["health_gamma_shape"], 1.0 / model["health_gamma_shape"], n_persons)
    health_part = _age_curve(age, persons["male"], model["age_curve"]) * health
    additive = _additive_effects(share, practice_class, persons["refugee"], model)
    expected = health_part + additive
    shock_shape = model["year_shock_gamma_shape"]
    fee = model["fee_per_contact_nok"]
    # Exposure: a person listed m months has m/12 of a year's expected contacts.
    shock = draw.gamma(shock_shape, 1.0 / shock_shape, n_persons)
    rate = (health_part * shock + additive) / fee * (persons["months"] / 12.0)
    cost = np.round(_claims(draw, rate, fee, model["fee_gamma_shape"]))
    # Last year: same h, the person's age then, a fresh shock, no additive effects, a full year.
    last_age = np.maximum(age - 1, 0)
    last_shock = draw.gamma(shock_shape, 1.0 / shock_shape, n_persons)
    last_rate = _age_curve(last_age, persons["male"], model["age_curve"]) * health * last_shock
    paid = _claims(
        draw,
        last_rate / fee,
        copay["copayment_per_contact_nok"],
        copay["copayment_gamma_shape"],
    )
    paid[(age == 0) | (last_age < copay["exempt_below_age"])] = 0.0
    copayment = np.minimum(np.round(paid), float(copay["ceiling_nok"]))
    return cost, copayment, expected
