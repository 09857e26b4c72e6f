"""The one definition of the indicators, shared by training and serving.

Every indicator is a categorical *factor* with named levels; a person's features are one integer
level code per factor. The same vectorised code derives them for one person (an API request is a
batch of one) and for five million (a data set), so the same person always gets the same
features. Band edges and thresholds live in ``IndicatorConfig``, which travels with the model.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.code_changes import CodeChange
from features.contract import Dataset
from features.errors import UnknownCodeError
from features.releases import ReferenceTables

MAX_AGE = 120  # the contract's upper bound on age

PERSON_FIELDS = (
    "age",
    "sex",
    "grunnkrets",
    "copayment_prev_year",
    "refugee_first_year",
    "practice_kommune",
)


class IndicatorConfig(BaseModel):
    """How registry fields become indicators: bands, threshold and which area and kommune count.

    The defaults are the 2026 rule's areas (education per grunnkrets, centrality of the practice
    kommune) with the finer bands of the ``model_2026_fine_bands`` challenger; the legislated
    rules are presets (``features/reference/*.yaml``). Centrality is a *supplement*: only the
    classes in ``centrality_supplement_classes`` get an effect of their own (one per class);
    the other classes are the reference level and get none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    age_edges: tuple[int, ...] = Field(
        (0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90),
        description="lower bound of each age band in whole years; the first must be 0",
    )
    copayment_edges: tuple[float, ...] = Field(
        (250.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0),
        description="copayment cut-offs in NOK; zero is a band of its own below the first",
    )
    education_threshold: float = Field(
        0.28, ge=0, le=1, description="primary-only share above which the area is low-education"
    )
    education_area: Literal["grunnkrets", "kommune", "kommune_or_bydel"] = Field(
        "grunnkrets",
        description="area whose primary-only share counts: the 2023 rule's kommune_or_bydel is "
        "the bydel where the kommune has bydeler, else the kommune",
    )
    centrality_of: Literal["practice", "residence"] = "practice"
    centrality_supplement_classes: tuple[int, ...] = Field(
        (5, 6), description="centrality classes with a supplement, one effect per class"
    )
    refugee: bool = True

    @field_validator("centrality_supplement_classes")
    @classmethod
    def _supplement_classes(cls, classes: tuple[int, ...]) -> tuple[int, ...]:
        if list(classes) != sorted(set(classes)) or not set(classes) <= set(range(2, 7)):
            raise ValueError("centrality_supplement_classes must be distinct classes from 2 to 6")
        return classes

    @field_validator("age_edges")
    @classmethod
    def _age_edges_start_at_zero(cls, edges: tuple[int, ...]) -> tuple[int, ...]:
        if not edges or edges[0] != 0 or list(edges) != sorted(set(edges)) or edges[-1] > 120:
            raise ValueError("age_edges must rise strictly from 0 and stay within 0-120")
        return edges

    @field_validator("copayment_edges")
    @classmethod
    def _copayment_edges_rise(cls, edges: tuple[float, ...]) -> tuple[float, ...]:
        if list(edges) != sorted(set(edges)) or (edges and edges[0] <= 0):
            raise ValueError("copayment_edges must be positive and rise strictly")
        return edges


PRESETS = ("model_2026", "model0_2023", "model_2026_fine_bands")


def preset_spec(name: str) -> dict:
    """The preset file of a model (``features/reference/<name>.yaml``) as a mapping (a copy
    the caller may change)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    return copy.deepcopy(_parsed_preset(name))


@functools.cache
def _parsed_preset(name: str) -> dict:
    # Read once per process: payment answers ask for a model's rule on every request.
    text = resources.files("features").joinpath("reference", f"{name}.yaml").read_text()
    return dict(yaml.safe_load(text))


def preset(name: str) -> tuple[IndicatorConfig, float]:
    """A model configuration by name (``model_2026``, ``model0_2023``, a challenger).

    Returns the indicator configuration and the dampening the rule applies.
    """
    spec = preset_spec(name)
    return IndicatorConfig(**spec["indicators"]), float(spec["dampening"])


@dataclass(frozen=True)
class Factor:
    """A categorical indicator: its column name in the features and its level labels."""

    name: str
    levels: tuple[str, ...]


def _band_labels(edges: tuple[float, ...], last_open: str) -> list[str]:
    closed = [f"{lo:g}" if hi - 1 == lo else f"{lo:g}-{hi - 1:g}" for lo, hi in pairwise(edges)]
    return [*closed, f"{edges[-1]:g}{last_open}"]


def factors(config: IndicatorConfig) -> tuple[Factor, ...]:
    """The model's factors in design order: age and sex cells first, then the supplements."""
    age_labels = _band_labels(config.age_edges, "+")
    age_sex = tuple(f"{sex} {label}" for label in age_labels for sex in ("F", "M"))
    cuts = (0.0, *config.copayment_edges)
    copay = ("0",) + tuple(f"{lo:g}-{hi:g}" for lo, hi in pairwise(cuts)) + (f"{cuts[-1]:g}+",)
    threshold = f"{config.education_threshold:g}"
    found: list[Factor] = [
        Factor("age_sex", age_sex),
        Factor("health_status", copay),
        Factor("education", (f"share <= {threshold}", f"share > {threshold}")),
        Factor("centrality", tuple(str(c) for c in range(1, 7))),
    ]
    if config.refugee:
        found.append(Factor("refugee", ("no", "first year")))
    return tuple(found)


@dataclass(frozen=True)
class Coded:
    """A column as positions into its distinct values: ``column == values[codes]``."""

    values: np.ndarray
    codes: np.ndarray

    @classmethod
    def from_series(cls, column: pd.Series) -> Coded:
        codes, uniques = pd.factorize(column, sort=False)
        if (codes < 0).any():
            raise ValueError(f"{column.name}: missing values cannot be scored")
        return cls(np.asarray(uniques, dtype=object), codes.astype(np.intp, copy=False))

    @classmethod
    def from_values(cls, values: Sequence) -> Coded:
        """Factorise a short Python sequence (a request) without pandas overhead."""
        positions: dict = {}
        codes = [positions.setdefault(value, len(positions)) for value in values]
        return cls(np.array(list(positions), dtype=object), np.array(codes, dtype=np.intp))

    @classmethod
    def repeated(cls, value, count: int) -> Coded:
        """One value for ``count`` persons, such as a list's practice kommune."""
        return cls(np.array([value], dtype=object), np.zeros(count, dtype=np.intp))

    def __len__(self) -> int:
        return len(self.codes)

    def kommune(self) -> Coded:
        """The kommune of each grunnkrets code: its first four digits."""
        return Coded(np.array([str(code)[:4] for code in self.values], dtype=object), self.codes)


@dataclass(frozen=True)
class PersonColumns:
    """The person fields of ``indicators.PERSON_FIELDS`` as arrays, codes factorised."""

    age: np.ndarray  # whole years, int64
    male: np.ndarray  # bool
    grunnkrets: Coded
    copayment_prev_year: Coded  # NOK last year, float64 values
    refugee_first_year: np.ndarray  # bool
    practice_kommune: Coded

    def __len__(self) -> int:
        return len(self.age)

    @classmethod
    def from_frame(
        cls, persons: pd.DataFrame, practice_kommune: Coded | None = None
    ) -> PersonColumns:
        """From a frame with the person fields; ``practice_kommune`` a column or given coded."""
        if practice_kommune is None:
            practice_kommune = Coded.from_series(persons["practice_kommune"].astype("string"))
        return cls(
            age=persons["age"].to_numpy(dtype=np.int64),
            male=(persons["sex"].astype("string") == "M").to_numpy(dtype=bool),
            grunnkrets=Coded.from_series(persons["grunnkrets"].astype("string")),
            copayment_prev_year=Coded.from_series(persons["copayment_prev_year"].astype("float64")),
            refugee_first_year=persons["refugee_first_year"].to_numpy(dtype=bool),
            practice_kommune=practice_kommune,
        )

    @classmethod
    def from_records(
        cls,
        *,
        age: Sequence[int],
        sex: Sequence[str],
        grunnkrets: Sequence[str],
        copayment_prev_year: Sequence[float] | np.ndarray,
        refugee_first_year: Sequence[bool],
        practice_kommune: Sequence[str] | Coded,
    ) -> PersonColumns:
        """From plain Python sequences, as an API request holds them (one or a list's persons).

        ``practice_kommune`` may come coded already, e.g. a list's one kommune for all persons.
        """
        if not isinstance(practice_kommune, Coded):
            practice_kommune = Coded.from_values(practice_kommune)
        return cls(
            age=np.array(age, dtype=np.int64),
            male=np.array([s == "M" for s in sex], dtype=bool),
            grunnkrets=Coded.from_values(grunnkrets),
            copayment_prev_year=Coded(
                np.array(copayment_prev_year, dtype=np.float64),
                np.arange(len(copayment_prev_year), dtype=np.intp),
            ),
            refugee_first_year=np.array(refugee_first_year, dtype=bool),
            practice_kommune=practice_kommune,
        )


def age_band(age: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """Band index per person; edges come from the model, so serving bands equal training bands."""
    return np.searchsorted(np.asarray(edges), age, side="right") - 1


def copayment_band(copayment: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Band 0 is no copayment at all; then one band per interval between the NOK cut-offs."""
    bands = np.searchsorted(np.asarray(edges, dtype="float64"), copayment, side="right") + 1
    return np.where(copayment > 0, bands, 0)


def education_level(share: np.ndarray, threshold: float) -> np.ndarray:
    """Low-education level (1) where the area's primary-only share exceeds the threshold."""
    return (np.asarray(share) > threshold).astype("int16")


def _lookup(
    codes: Coded, table: dict, field: str, reference: str, release: str | None = None
) -> np.ndarray:
    """Each distinct code looked up once; an unknown code raises, naming field and release."""
    found = [table.get(code) for code in codes.values]
    unknown = [str(code) for code, value in zip(codes.values, found, strict=True) if value is None]
    if unknown:
        raise UnknownCodeError(field, unknown, reference, release or None)
    return np.asarray(found)[codes.codes]


def _translated(
    codes: Coded, kind: str, known: dict, field: str, reference: ReferenceTables
) -> tuple[Coded, list[CodeChange]]:
    """Old codes replaced by the codes in force in the release (a split code raises)."""
    changes = reference.code_changes.mapping(
        kind, (str(code) for code in codes.values), known, field=field, release=reference.release
    )
    if not changes:
        return codes, []
    values = np.array(
        [changes[code].new if code in changes else code for code in codes.values], dtype=object
    )
    return Coded(values, codes.codes), list(changes.values())


def in_release(
    persons: PersonColumns, reference: ReferenceTables
) -> tuple[PersonColumns, list[CodeChange]]:
    """The persons with old grunnkrets and kommune codes replaced by the release's codes.

    Returns the changes applied, so an answer can say which codes were priced under new ones.
    A code that was split raises ``SplitCodeError`` with the candidates; a code that is not in
    the release and has no recorded change is left for ``indicator_levels`` to refuse.
    """
    grunnkrets, by_area = _translated(
        persons.grunnkrets, "grunnkrets", reference.grunnkrets_shares, "grunnkrets", reference
    )
    kommune, by_practice = _translated(
        persons.practice_kommune,
        "kommune",
        reference.kommune_centralities,
        "practice_kommune",
        reference,
    )
    if not by_area and not by_practice:
        return persons, []
    moved = replace(persons, grunnkrets=grunnkrets, practice_kommune=kommune)
    return moved, by_area + by_practice


def indicator_levels(
    persons: PersonColumns, reference: ReferenceTables, config: IndicatorConfig
) -> dict[str, np.ndarray]:
    """The one definition: an integer level per factor per person, plus the education share.

    Unknown grunnkrets or kommune codes raise ``UnknownCodeError``; nothing is guessed.
    """
    age = persons.age
    if len(age) and age.min() >= 0 and age.max() <= MAX_AGE:
        band = age_band(np.arange(MAX_AGE + 1), config.age_edges)[age]
    else:
        band = age_band(age, config.age_edges)
    if config.education_area in ("grunnkrets", "kommune_or_bydel"):
        by_grunnkrets = (
            reference.grunnkrets_shares
            if config.education_area == "grunnkrets"
            else reference.district_shares  # the bydel's share where there is one
        )
        share = _lookup(
            persons.grunnkrets, by_grunnkrets, "grunnkrets", "grunnkrets", reference.release
        )
    else:
        residence = persons.grunnkrets.kommune()
        share = _lookup(
            residence, reference.kommune_shares, "grunnkrets", "kommune", reference.release
        )
    if config.centrality_of == "practice":
        kommune, field = persons.practice_kommune, "practice_kommune"
    else:
        kommune, field = persons.grunnkrets.kommune(), "grunnkrets"
    centrality = _lookup(
        kommune, reference.kommune_centralities, field, "kommune", reference.release
    )
    copayment = persons.copayment_prev_year
    health = copayment_band(copayment.values.astype(np.float64), config.copayment_edges)
    levels = {
        "age_sex": (band * 2 + persons.male).astype("int16"),
        "health_status": health.astype("int16")[copayment.codes],
        "education": education_level(share, config.education_threshold),
        "centrality": (centrality.astype("int64") - 1).astype("int16"),
    }
    if config.refugee:
        levels["refugee"] = persons.refugee_first_year.astype("int16")
    levels["education_share"] = share.astype("float64")
    return levels


def derive_features(
    persons: pd.DataFrame, reference: ReferenceTables, config: IndicatorConfig
) -> pd.DataFrame:
    """``indicator_levels`` for a frame with the fields of ``PERSON_FIELDS``, as a frame.

    ``practice_kommune`` is the person's list's (``persons_with_practice``). Old codes are
    read as the release's new codes (``in_release``).
    """
    columns, _ = in_release(PersonColumns.from_frame(persons), reference)
    levels = indicator_levels(columns, reference, config)
    return pd.DataFrame(levels, index=persons.index)


def persons_with_practice(dataset: Dataset) -> pd.DataFrame:
    """Persons with their list's practice kommune attached, as the indicators need them."""
    practice = dataset.lists.set_index("list_id")["practice_kommune"]
    out = dataset.persons.copy(deep=False)  # copy-on-write: the caller's frame is untouched
    lists = Coded.from_series(out["list_id"].astype("string"))
    out["practice_kommune"] = _lookup(lists, dict(practice.items()), "list_id", "list")
    return out
