"""Education shares with the fallback for suppressed grunnkretser, as a release applies them.

SSB suppresses the education share of small grunnkretser. A grunnkrets without a share takes
its bydel's share (the mean of the bydel's grunnkretser that have one, weighted by residents),
else its kommune's; every fallback is counted (``EducationFallback``), and a kommune with no
share at all is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import ReleaseError

# An area with no listed residents still counts, with a weight this small, so that a kommune
# whose grunnkretser happen to be empty in a sample still gets a share.
EMPTY_AREA_WEIGHT = 1e-9


@dataclass(frozen=True)
class EducationFallback:
    """How many grunnkretser (and how many residents) took a bydel's or a kommune's share."""

    grunnkretser_bydel: int = 0
    grunnkretser_kommune: int = 0
    persons_bydel: int = 0
    persons_kommune: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "education_fallback_grunnkretser_bydel": self.grunnkretser_bydel,
            "education_fallback_grunnkretser_kommune": self.grunnkretser_kommune,
            "education_fallback_persons_bydel": self.persons_bydel,
            "education_fallback_persons_kommune": self.persons_kommune,
        }

    def __str__(self) -> str:
        def areas(n: int) -> str:
            return f"{n} grunnkrets" if n == 1 else f"{n} grunnkretser"

        return (
            f"{areas(self.grunnkretser_bydel)} ({self.persons_bydel} persons) take their "
            f"bydel's education share, {areas(self.grunnkretser_kommune)} "
            f"({self.persons_kommune} persons) their kommune's"
        )


def _weighted_mean(values: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> pd.Series:
    frame = pd.DataFrame({"g": groups, "ws": values * weights, "w": weights})
    sums = frame.groupby("g", sort=True)[["ws", "w"]].sum()
    return sums["ws"] / sums["w"]


def education_shares(
    grunnkretser: pd.DataFrame, residents: np.ndarray, release: str = ""
) -> tuple[pd.Series, pd.Series, pd.Series, EducationFallback]:
    """Each grunnkrets's education share with the fallback applied, and the area shares.

    Returns the grunnkrets shares (no gaps), the person-weighted share per kommune and per
    bydel (over the grunnkretser with a published share), and the fallback counts. A kommune
    none of whose grunnkretser has a share cannot be filled and is refused.
    """
    codes = grunnkretser["grunnkrets"].astype(str).to_numpy()
    share = grunnkretser["primary_only_share"].to_numpy(dtype="float64")
    weight = residents.astype("float64") + EMPTY_AREA_WEIGHT
    known = ~np.isnan(share)
    kommune = np.array([code[:4] for code in codes], dtype=object)
    kommune_share = _weighted_mean(share[known], weight[known], kommune[known])
    if "bydel" in grunnkretser:
        bydel = grunnkretser["bydel"].astype(object).where(grunnkretser["bydel"].notna(), None)
        bydel_codes = bydel.to_numpy(dtype=object)
    else:
        bydel_codes = np.full(len(codes), None, dtype=object)
    in_bydel = np.array([code is not None for code in bydel_codes], dtype=bool)
    bydel_share = _weighted_mean(
        share[known & in_bydel], weight[known & in_bydel], bydel_codes[known & in_bydel]
    )
    filled = share.copy()
    from_bydel = ~known & in_bydel & pd.Index(bydel_codes).isin(bydel_share.index)
    filled[from_bydel] = bydel_share.reindex(bydel_codes[from_bydel]).to_numpy()
    from_kommune = ~known & ~from_bydel
    filled[from_kommune] = kommune_share.reindex(kommune[from_kommune]).to_numpy()
    unfilled = from_kommune & np.isnan(filled)
    if unfilled.any():
        empty = sorted(set(kommune[unfilled]))
        raise ReleaseError(
            release,
            f"kommune {', '.join(empty[:5])} has no grunnkrets with an education share, "
            "so its suppressed grunnkretser have nothing to fall back to",
        )
    fallback = EducationFallback(
        int(from_bydel.sum()),
        int(from_kommune.sum()),
        int(residents[from_bydel].sum()),
        int(residents[from_kommune].sum()),
    )
    by_grunnkrets = pd.Series(filled, index=pd.Index(codes, dtype="string"))
    return by_grunnkrets, kommune_share.rename("primary_only_share"), bydel_share, fallback
