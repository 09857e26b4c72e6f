"""The 2026 reform step by step, from model 0 to the 2026 rule, and its waterfall.

Each step changes one thing of the previous configuration, in the order the white paper lists
them, and each is a configuration of its own that is *calibrated* (its weights are the fit of
that configuration on the training data, not the previous step's weights relabelled):

0. ``model0_2023``: the 2023 rule, with utjamningstilskudd paid beside it;
1. ``dampening_off``: dampening 0;
2. ``education_by_grunnkrets``: the education supplement per grunnkrets of residence;
3. ``centrality_by_practice``: the centrality supplement by the practice kommune;
4. ``utjamning_into_centrality``: utjamningstilskudd abolished, its money U spent on the
   centrality supplement of class 5-6 practice kommuner;
5. ``refugee_rate``: the first-year rate for asylum seekers and settled refugees; this step is
   the 2026 rule (``model_2026``) exactly.

The waterfall prices every list's whole basistilskudd (PTB, grunntilskudd, utjamningstilskudd)
under each step; the NOK a step moves is the difference from the step before, so the steps add
up to the total change of every list (rounding aside).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features.basistilskudd import Rule, dataset_payments
from features.bundle import ModelBundle
from features.contract import Dataset
from features.grants import PersonScorer, PersonTable
from features.indicators import IndicatorConfig, preset, preset_spec
from features.releases import Release
from features.scheme import SchemeParameters
from features.synth import size_band

SIZE_BAND_LABELS = ("under 5,000", "5,000-20,000", "over 20,000")
GROUPINGS = ("kommune", "centrality", "size_band", "form_of_practice")


@dataclass(frozen=True)
class ReformStep:
    """One configuration on the way from model 0 to the 2026 rule."""

    name: str
    label: str
    indicators: IndicatorConfig
    dampening: float
    moves_utjamning: bool  # U spent on centrality (and no utjamningstilskudd paid)

    @property
    def rule(self) -> Rule:
        """Which list-level rule pays beside PTB: utjamningstilskudd only before the move."""
        return "model_2026" if self.moves_utjamning else "model0_2023"

    def scheme(self, base: SchemeParameters | None = None) -> SchemeParameters:
        """The step's scheme: its dampening, the other parameters from ``base``."""
        share = preset_spec("model_2026")["scheme"].get("utjamning_class6_share", 0.5)
        base = base or SchemeParameters(utjamning_class6_share=share)
        return base.model_copy(
            update={
                "dampening": self.dampening,
                "utjamning_moved_nok": base.utjamning_moved_nok if self.moves_utjamning else None,
                "centrality_strengthening_nok": None,
            }
        )


def reform_steps() -> tuple[ReformStep, ...]:
    """The six configurations, each the previous one with one reform change applied."""
    old, old_dampening = preset("model0_2023")
    new, new_dampening = preset("model_2026")
    moves = bool(preset_spec("model_2026")["scheme"]["utjamning_to_centrality"])
    changes: list[tuple[str, str, dict, dict]] = [
        ("model0_2023", "model 0 (the 2023 rule)", {}, {}),
        ("dampening_off", "dampening off", {}, {"dampening": new_dampening}),
        (
            "education_by_grunnkrets",
            "education by grunnkrets",
            {"education_area": new.education_area},
            {},
        ),
        (
            "centrality_by_practice",
            "centrality by practice kommune",
            {"centrality_of": new.centrality_of},
            {},
        ),
        (
            "utjamning_into_centrality",
            "utjamningstilskudd moved into centrality",
            {},
            {"moves_utjamning": moves},
        ),
        ("refugee_rate", "refugee and asylum first-year rate", {"refugee": new.refugee}, {}),
    ]
    steps: list[ReformStep] = []
    indicators, dampening, moved = old, old_dampening, False
    for name, label, indicator_change, scheme_change in changes:
        indicators = indicators.model_copy(update=indicator_change)
        dampening = scheme_change.get("dampening", dampening)
        moved = scheme_change.get("moves_utjamning", moved)
        steps.append(ReformStep(name, label, indicators, dampening, moved))
    return tuple(steps)


def list_groups(lists: pd.DataFrame, kommuner: pd.DataFrame) -> pd.DataFrame:
    """Per list the groups a waterfall is summed by: kommune, centrality class, size band and
    form of practice ("unknown" where the data set does not say)."""
    table = kommuner.set_index("kommune")
    kommune = lists["practice_kommune"].astype("string")
    if "population" in table.columns:
        inhabitants = kommune.map(table["population"]).to_numpy(dtype="float64")
        band = np.where(
            np.isnan(inhabitants),
            "unknown",
            np.asarray(SIZE_BAND_LABELS, dtype=object)[size_band(np.nan_to_num(inhabitants))],
        )
    else:
        band = np.full(len(lists), "unknown", dtype=object)
    form = (
        lists["form_of_practice"].astype(object).fillna("unknown").to_numpy()
        if "form_of_practice" in lists.columns
        else np.full(len(lists), "unknown", dtype=object)
    )
    return pd.DataFrame(
        {
            "list_id": lists["list_id"].astype("string").to_numpy(),
            "kommune": kommune.to_numpy(),
            "kommune_name": kommune.map(table["name"]).to_numpy(),
            "centrality": kommune.map(table["centrality"]).to_numpy(dtype="int64"),
            "size_band": band,
            "form_of_practice": form,
        }
    )


def waterfall(
    groups: pd.DataFrame, persons: np.ndarray, totals: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    """The NOK each step moves, per list and summed per group.

    ``totals`` maps step name (in order) to every list's whole basistilskudd under that step.
    Returns ``lists`` (one row per list: the first and last totals, one column per step with
    the NOK it moves, and ``change_nok``) and one table per grouping of ``GROUPINGS`` with
    lists, persons, the same step columns and the change, plus ``steps``: per step the net NOK
    it moves nationally, the NOK gained by the lists that gain and lost by those that lose
    (a budget-neutral step moves money with a net of about 0), and how many lists gain or lose.
    """
    names = list(totals)
    lists = groups.copy()
    lists["persons"] = np.asarray(persons, dtype="int64")
    lists["before_nok"] = totals[names[0]]
    for previous, step in zip(names, names[1:], strict=False):
        lists[step] = totals[step] - totals[previous]
    lists["after_nok"] = totals[names[-1]]
    lists["change_nok"] = lists["after_nok"] - lists["before_nok"]
    moved = names[1:]
    summed = ["persons", "before_nok", *moved, "after_nok", "change_nok"]
    tables = {"lists": lists}
    for grouping in GROUPINGS:
        keys = [grouping, "kommune_name", "centrality"] if grouping == "kommune" else [grouping]
        table = lists.groupby(keys, sort=True, dropna=False)[summed].sum()
        table.insert(0, "lists", lists.groupby(keys, sort=True, dropna=False).size())
        table = table.reset_index()
        if grouping == "size_band":  # smallest kommuner first, as the bands read
            order = {label: i for i, label in enumerate((*SIZE_BAND_LABELS, "unknown"))}
            table = table.sort_values("size_band", key=lambda s: s.map(order), ignore_index=True)
        tables[grouping] = table
    tables["steps"] = pd.DataFrame(
        {
            "step": moved,
            "moved_nok": [float(lists[name].sum()) for name in moved],
            "gains_nok": [float(lists[name].clip(lower=0).sum()) for name in moved],
            "losses_nok": [float(lists[name].clip(upper=0).sum()) for name in moved],
            "gaining_lists": [int((lists[name] > 0.5).sum()) for name in moved],
            "losing_lists": [int((lists[name] < -0.5).sum()) for name in moved],
        }
    )
    return tables


def step_of(bundle: ModelBundle) -> ReformStep:
    """The reform step a step bundle (named ``reform/<step>``) was calibrated for."""
    name = bundle.name.removeprefix("reform/")
    for step in reform_steps():
        if step.name == name:
            return step
    raise ValueError(f"{bundle.name!r} is not a reform step bundle")


def step_payments(
    bundle: ModelBundle,
    dataset: Dataset,
    scheme_date: date,
    table: PersonTable | None = None,
    release: Release | None = None,
) -> pd.DataFrame:
    """Every list's basistilskudd (``PAYMENT_COLUMNS``) under one step, in ``lists`` order.

    ``table`` (the data set's persons factorised once) saves that work across the steps.
    With ``release`` (the period being paid), the step is priced on that release's facts at
    the rate that makes the data set's persons spend the period's budget
    (``PersonScorer.for_period``); without, on the step's own training release and rate.
    """
    table = table or PersonTable.from_dataset(dataset)
    average = bundle.scheme.average_grant_nok
    if release is None:
        scorer = PersonScorer(bundle)
    else:
        scorer = PersonScorer(bundle, release.reference).for_period(table.columns, release)
        average = release.average_grant_nok or average
    scores = scorer.score(table.columns)
    n_lists = len(table.list_ids)
    ptb = np.bincount(table.list_codes, weights=scores.grant_nok, minlength=n_lists)
    return dataset_payments(
        dataset,
        ptb,
        np.bincount(table.list_codes, minlength=n_lists),
        scheme_date=scheme_date,
        average_grant_nok=average,
        rule=step_of(bundle).rule,
    )


def reform_waterfall(
    steps: tuple[ModelBundle, ...],
    dataset: Dataset,
    scheme_date: date,
    table: PersonTable | None = None,
    release: Release | None = None,
) -> dict[str, pd.DataFrame]:
    """The waterfall of a data set under the shipped step bundles (see ``waterfall``), each
    step priced on ``release`` (the period's, see ``step_payments``) where given."""
    table = table or PersonTable.from_dataset(dataset)
    totals = {
        step_of(bundle).name: step_payments(bundle, dataset, scheme_date, table, release)[
            "total_nok"
        ].to_numpy()
        for bundle in steps
    }
    persons = np.bincount(table.list_codes, minlength=len(table.list_ids))
    return waterfall(list_groups(dataset.lists, dataset.kommuner), persons, totals)
