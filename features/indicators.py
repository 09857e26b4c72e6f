"""The one definition of the indicators, shared by training and serving.

Every indicator is a categorical *factor* with named levels; a person's features are one integer
level code per factor. The same vectorised code derives them for one person (an API request is a
batch of one) and for five million (a data set), so the same person always gets the same
features. Band edges and thresholds live in ``IndicatorConfig``, which travels with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.contract import Dataset
from features.errors import UnknownCodeError

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

    The 2026 default uses 5-year age bands (wider at the ends), education per grunnkrets and the
    centrality of the practice kommune; model 0 (the 2023 rule) is a preset of the same fields.
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
    education_area: Literal["grunnkrets", "kommune"] = "grunnkrets"
    centrality_of: Literal["practice", "residence"] = "practice"
    refugee: bool = True

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


def preset(name: str) -> tuple[IndicatorConfig, float]:
    """A published model configuration by name (``model_2026``, ``model0_2023``).

    Returns the indicator configuration and the dampening the rule applies.
    """
    text = resources.files("features").joinpath("reference", f"{name}.yaml").read_text()
    spec = yaml.safe_load(text)
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
class ReferenceTables:
    """Area facts the indicators look up: education shares and centrality classes.

    They travel with the model, so serving derives the features training saw.
    """

    grunnkrets_share: pd.Series  # primary_only_share by grunnkrets code
    kommune_share: pd.Series  # primary_only_share by kommune, for the 2023 rule
    kommune_centrality: pd.Series  # SSB centrality class 1-6 by kommune code

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> ReferenceTables:
        """Build the tables; a kommune's share is the person-weighted mean of its grunnkretser."""
        gk = dataset.grunnkretser.set_index("grunnkrets")["primary_only_share"].astype("float64")
        residents = dataset.persons["grunnkrets"].value_counts().reindex(gk.index, fill_value=0)
        kommune_of = gk.index.str.slice(0, 4)
        # Areas with no listed residents still count once, so every kommune gets a share.
        weight = residents.to_numpy(dtype="float64") + 1e-9
        by_kommune = pd.DataFrame({"k": kommune_of, "ws": gk.to_numpy() * weight, "w": weight})
        sums = by_kommune.groupby("k")[["ws", "w"]].sum()
        kommune_share = (sums["ws"] / sums["w"]).rename("primary_only_share")
        centrality = dataset.kommuner.set_index("kommune")["centrality"].astype("int64")
        return cls(gk, kommune_share, centrality)


@dataclass(frozen=True)
class Codes:
    """A code column as positions into its distinct values, so each value is looked up once.

    Five million persons live in 14,000 grunnkretser and are listed in 357 kommuner: looking up
    the distinct codes and spreading the answers is what makes a national data set fast.
    """

    values: pd.Index
    positions: np.ndarray

    @classmethod
    def of(cls, column: pd.Series) -> Codes:
        positions, values = pd.factorize(pd.Series(column).astype("string"))
        return cls(pd.Index(np.asarray(values, dtype=object), dtype=object), positions)

    def kommune(self) -> Codes:
        """The kommune of each grunnkrets code: its first four digits."""
        return Codes(
            pd.Index([str(code)[:4] for code in self.values], dtype=object), self.positions
        )

    def lookup(self, table: pd.Series, field: str, reference: str) -> np.ndarray:
        """The table's value for each code; unknown codes raise, naming the field."""
        found = table.index.get_indexer(self.values)
        missing = found < 0
        if missing.any() or (self.positions < 0).any():
            unknown = [str(code) for code in self.values[missing]] or ["(empty)"]
            raise UnknownCodeError(field, unknown, reference)
        return table.to_numpy()[found][self.positions]


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


def derive_features(
    persons: pd.DataFrame, reference: ReferenceTables, config: IndicatorConfig
) -> pd.DataFrame:
    """One integer level per factor per person, plus the education share itself.

    ``persons`` needs the fields in ``PERSON_FIELDS`` (``practice_kommune`` from the person's
    list). Unknown grunnkrets or kommune codes raise ``UnknownCodeError``; nothing is guessed.
    """
    age = persons["age"].to_numpy(dtype="int64")
    male = (persons["sex"].astype("string") == "M").to_numpy(dtype=bool)
    grunnkrets = Codes.of(persons["grunnkrets"])
    if config.education_area == "grunnkrets":
        share = grunnkrets.lookup(reference.grunnkrets_share, "grunnkrets", "grunnkrets")
    else:
        share = grunnkrets.kommune().lookup(reference.kommune_share, "grunnkrets", "kommune")
    if config.centrality_of == "practice":
        kommune, field = Codes.of(persons["practice_kommune"]), "practice_kommune"
    else:
        kommune, field = grunnkrets.kommune(), "grunnkrets"
    centrality = kommune.lookup(reference.kommune_centrality, field, "kommune")
    copayment = persons["copayment_prev_year"].to_numpy(dtype="float64")
    features = {
        "age_sex": (age_band(age, config.age_edges) * 2 + male).astype("int16"),
        "health_status": copayment_band(copayment, config.copayment_edges).astype("int16"),
        "education": education_level(share, config.education_threshold),
        "centrality": (centrality.astype("int64") - 1).astype("int16"),
    }
    if config.refugee:
        features["refugee"] = persons["refugee_first_year"].to_numpy(dtype=bool).astype("int16")
    frame = pd.DataFrame(features, index=persons.index)
    frame["education_share"] = share.astype("float64")
    return frame


def persons_with_practice(dataset: Dataset) -> pd.DataFrame:
    """Persons with their list's practice kommune attached, as the indicators need them."""
    practice = dataset.lists.set_index("list_id")["practice_kommune"]
    out = dataset.persons.copy(deep=False)  # copy-on-write: the caller's frame is untouched
    out["practice_kommune"] = Codes.of(out["list_id"]).lookup(practice, "list_id", "list")
    return out
