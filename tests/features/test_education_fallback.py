"""The education fallback: a suppressed grunnkrets takes its bydel's share, else its kommune's,
person-weighted; a kommune with no share at all is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.education_fallback import education_shares
from features.errors import ReleaseError


def grunnkretser_with_shares(shares, bydeler=None) -> pd.DataFrame:
    """Six grunnkretser in kommuner 0301 (two bydeler) and 1101, with these shares."""
    codes = ["03010101", "03010102", "03010201", "03010202", "11010101", "11010102"]
    frame = pd.DataFrame({"grunnkrets": codes, "primary_only_share": shares})
    if bydeler is not None:
        frame["bydel"] = pd.array(bydeler, dtype="string")
    return frame


def test_a_suppressed_share_falls_back_to_its_bydel_person_weighted():
    frame = grunnkretser_with_shares(
        [np.nan, 0.10, 0.30, 0.50, np.nan, 0.40],
        ["030101", "030101", "030102", "030102", None, None],
    )
    residents = np.array([5, 100, 100, 300, 7, 50])
    shares, kommune, bydel, fallback = education_shares(frame, residents)
    assert shares["03010101"] == pytest.approx(0.10)  # its bydel has one share: 0.10
    assert bydel["030102"] == pytest.approx((0.30 * 100 + 0.50 * 300) / 400)
    assert kommune["0301"] == pytest.approx((0.10 * 100 + 0.30 * 100 + 0.50 * 300) / 500)
    assert shares["11010101"] == pytest.approx(0.40)  # no bydel: the kommune's share
    assert (fallback.grunnkretser_bydel, fallback.persons_bydel) == (1, 5)
    assert (fallback.grunnkretser_kommune, fallback.persons_kommune) == (1, 7)


def test_a_bydel_without_any_share_falls_back_to_the_kommune():
    frame = grunnkretser_with_shares(
        [np.nan, np.nan, 0.30, 0.50, 0.2, 0.4],
        ["030101", "030101", "030102", "030102", None, None],
    )
    shares, kommune, _, fallback = education_shares(frame, np.array([1, 1, 100, 300, 10, 10]))
    assert shares["03010101"] == pytest.approx(kommune["0301"]) == pytest.approx(0.45)
    assert fallback.grunnkretser_kommune == 2 and fallback.grunnkretser_bydel == 0


def test_a_kommune_with_no_share_at_all_is_refused():
    frame = grunnkretser_with_shares([0.1, 0.2, 0.3, 0.4, np.nan, np.nan])
    with pytest.raises(ReleaseError, match="kommune 1101 has no grunnkrets with an education"):
        education_shares(frame, np.ones(6), "test")
