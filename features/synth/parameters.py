"""What the generator reads: its constants and the SSB reference tables.

Every constant is in ``features/reference/synth_cost_model.yaml`` (docs/cost-model.md explains
each one); the real kommuner and the national age pyramid are CSV files beside it.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

PARAMETERS_FILE = "synth_cost_model.yaml"


def load_parameters() -> dict[str, Any]:
    """The generator's constants, read from the reference YAML file."""
    path = resources.files("features").joinpath("reference", PARAMETERS_FILE)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def reference_csv(name: str) -> pd.DataFrame:
    """A CSV file of ``features/reference``, every column as text (empty cells stay empty)."""
    with resources.files("features").joinpath("reference", name).open("rb") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


def by_centrality_class(mapping: dict, classes: np.ndarray) -> np.ndarray:
    """Look up a {centrality class: value} table for an array of classes 1-6."""
    table = np.array([float(mapping[c]) for c in range(1, 7)])
    return table[classes - 1]
