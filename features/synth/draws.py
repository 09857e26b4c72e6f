"""The two vectorised draws every step of the generator is built from.

A person is a row in a handful of numpy arrays, and "pick one item per person in proportion to
weights within a group" is one ``searchsorted`` on cumulative weights, so the whole country
(5.55 million persons) takes seconds, not hours.
"""

from __future__ import annotations

import numpy as np


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that add up to ``total`` (largest remainder)."""
    quota = weights / weights.sum() * total
    counts = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def pick_within(
    cumulative: np.ndarray, first: np.ndarray, last: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Per person, an item in ``first..last`` (inclusive) drawn in proportion to its weight.

    ``cumulative`` is the running sum of item weights with each group's items contiguous, so
    one ``searchsorted`` on a point inside the group's stretch draws for every person at once.
    """
    low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    target = low + u * (cumulative[last] - low)
    return np.clip(np.searchsorted(cumulative, target, side="right"), first, last)
