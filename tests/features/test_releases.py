"""Reference releases: the shipped one, a data set's own, the bydel share model 0 reads, code
changes."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.code_changes import CodeChanges
from features.contract import Dataset, write_dataset
from features.errors import ReleaseError, SplitCodeError, UnknownCodeError
from features.indicators import Coded, PersonColumns, in_release, indicator_levels, preset
from features.releases import (
    SHIPPED_RELEASE,
    Release,
    load_with_release,
    shipped_releases,
)
from tests.features.test_education_fallback import grunnkretser_with_shares


def test_the_shipped_release_has_every_kommune_with_population_and_bydeler():
    release = Release.named()
    assert release.name == SHIPPED_RELEASE in shipped_releases()
    assert release.valid_from == "2024-01-01"
    assert len(release.kommuner) == 357
    assert release.kommuner["population"].sum() == 5_550_203
    haram = release.kommuner.set_index("kommune").loc["1580"]
    assert haram["population"] > 0  # imputed: SSB's 2021 table has Haram inside Ålesund
    bydeler = release.grunnkretser.dropna(subset=["bydel"])["bydel"].str.slice(0, 4)
    assert set(bydeler) == {"0301", "1103", "4601", "5001"}
    assert release.grunnkretser["primary_only_share"].isna().any()  # suppressed small areas
    assert not np.isnan(release.reference.grunnkrets_share.to_numpy()).any()


def test_a_release_round_trips_through_its_directory(tmp_path):
    release = Release.named()
    loaded = Release.load(release.save(tmp_path / "r"))
    assert loaded.name == release.name and loaded.period == release.period
    pd.testing.assert_series_equal(
        loaded.reference.grunnkrets_share, release.reference.grunnkrets_share
    )
    assert Release.named(tmp_path / "r").name == release.name


def test_an_unknown_release_name_is_refused_naming_the_shipped_ones():
    with pytest.raises(ReleaseError, match=f"no such release; shipped: {SHIPPED_RELEASE}"):
        Release.named("1999")


def test_model0_reads_the_bydel_share_of_the_release_in_use_after_the_fallback():
    """The 2023 rule's "kommune or bydel" education area is looked up in the release of the
    period being paid: a bydel's person-weighted share, else the kommune's; an unknown
    grunnkrets names the release."""
    grunnkretser = grunnkretser_with_shares(
        [np.nan, 0.10, 0.30, 0.50, np.nan, 0.40],
        ["030101", "030101", "030102", "030102", None, None],
    ).assign(residents=[5, 100, 100, 300, 7, 50])
    kommuner = pd.DataFrame(
        {"kommune": ["0301", "1101"], "name": ["Oslo", "Eigersund"], "centrality": [1, 4]}
    )
    reference = Release("period 2025", kommuner, grunnkretser).reference
    bydel = (0.30 * 100 + 0.50 * 300) / 400
    assert reference.district_shares["03010101"] == pytest.approx(0.10)  # suppressed: bydel's
    assert reference.district_shares["03010202"] == pytest.approx(bydel)
    assert reference.district_shares["11010102"] == pytest.approx(0.40)  # no bydel: kommune's
    config, _ = preset("model0_2023")
    assert config.education_area == "kommune_or_bydel"

    def person(grunnkrets: str) -> PersonColumns:
        return PersonColumns.from_records(
            age=[40],
            sex=["F"],
            grunnkrets=[grunnkrets],
            copayment_prev_year=[0.0],
            refugee_first_year=[False],
            practice_kommune=["0301"],
        )

    levels = indicator_levels(person("03010201"), reference, config)
    assert levels["education_share"][0] == pytest.approx(bydel)
    by_grunnkrets, _ = preset("model_2026")  # the 2026 rule reads the grunnkrets's own share
    own = indicator_levels(person("03010201"), reference, by_grunnkrets)
    assert own["education_share"][0] == pytest.approx(0.30)
    with pytest.raises(UnknownCodeError, match="03019999 in reference release period 2025"):
        indicator_levels(person("03019999"), reference, config)


def test_the_indicators_read_the_release_in_use_not_the_training_one(tiny_dataset: Dataset):
    config, _ = preset("model_2026")
    release = Release.from_dataset(tiny_dataset, "this year")
    persons = PersonColumns.from_records(
        age=[40],
        sex=["F"],
        grunnkrets=[tiny_dataset.grunnkretser["grunnkrets"].iloc[0]],
        copayment_prev_year=[0.0],
        refugee_first_year=[False],
        practice_kommune=["0301"],
    )
    raised = replace(release, grunnkretser=release.grunnkretser.assign(primary_only_share=0.99))
    assert indicator_levels(persons, release.reference, config)["education"][0] in (0, 1)
    assert indicator_levels(persons, raised.reference, config)["education"][0] == 1
    lowered = replace(release, grunnkretser=release.grunnkretser.assign(primary_only_share=0.0))
    assert indicator_levels(persons, lowered.reference, config)["education"][0] == 0


def test_an_unknown_code_names_the_code_and_the_release(tiny_dataset: Dataset):
    config, _ = preset("model_2026")
    reference = Release.from_dataset(tiny_dataset, "data set 2025").reference
    persons = PersonColumns.from_records(
        age=[40],
        sex=["F"],
        grunnkrets=["99990101"],
        copayment_prev_year=[0.0],
        refugee_first_year=[False],
        practice_kommune=["0301"],
    )
    with pytest.raises(UnknownCodeError, match="99990101 in reference release data set 2025"):
        indicator_levels(persons, reference, config)


def test_the_2024_kommune_changes_ship_with_haram_split_out_of_alesund():
    changes = CodeChanges.shipped()
    known = {"1508", "1580", "3101", "5605", "5612"}
    with pytest.raises(SplitCodeError) as split:
        changes.resolve("kommune", "1507", known, field="practice_kommune", release="2024")
    assert split.value.candidates == ("1508", "1580")
    assert "1507 was split into 1508, 1580" in str(split.value)
    assert changes.resolve("kommune", "3001", known, field="k", release="2024") == (
        "3101",
        "2024-01-01",
    )
    # Kautokeino and Sør-Varanger: Troms og Finnmark's numbers became Finnmark's.
    assert changes.resolve("kommune", "5430", known, field="k", release="2024")[0] == "5612"
    assert changes.resolve("kommune", "5444", known, field="k", release="2024")[0] == "5605"
    assert len(changes.table) == 115


def test_a_grunnkrets_follows_its_kommunes_new_number_and_a_split_names_candidates():
    changes = CodeChanges.shipped()
    known = {"31010103", "15080101", "15800101"}
    mapped = changes.mapping(
        "grunnkrets", ["30010103", "31010103"], known, field="grunnkrets", release="2024"
    )
    assert list(mapped) == ["30010103"] and mapped["30010103"].new == "31010103"
    # Ålesund's grunnkrets 0101 exists under both new kommuner: which one cannot be guessed.
    with pytest.raises(SplitCodeError, match="15070101 was split into 15080101, 15800101"):
        changes.mapping("grunnkrets", ["15070101"], known, field="grunnkrets", release="2024")
    # Where only one new kommune has the grunnkrets, it is that one.
    only = changes.mapping(
        "grunnkrets", ["15070101"], {"15800101"}, field="grunnkrets", release="2024"
    )
    assert only["15070101"].new == "15800101"


def test_requests_with_old_codes_are_priced_under_the_new_ones(tiny_dataset: Dataset):
    reference = Release.from_dataset(tiny_dataset, "2024").reference
    old_oslo_gk = tiny_dataset.grunnkretser["grunnkrets"].iloc[0]
    persons = PersonColumns.from_records(
        age=[40, 41],
        sex=["F", "M"],
        grunnkrets=[old_oslo_gk, old_oslo_gk],
        copayment_prev_year=[0.0, 10.0],
        refugee_first_year=[False, False],
        practice_kommune=Coded.from_values(["3001", "0301"]),
    )
    moved, changes = in_release(persons, reference)
    assert [(c.field, c.old, c.new) for c in changes] == [("practice_kommune", "3001", "3101")]
    assert list(moved.practice_kommune.values) == ["3101", "0301"]


def test_a_data_set_with_old_codes_is_mapped_before_it_is_checked(tiny_dataset, tmp_path):
    renumbered = CodeChanges.shipped().table.drop_duplicates("old", keep=False)
    old_of = dict(zip(renumbered["new"], renumbered["old"], strict=True))
    lists = tiny_dataset.lists.copy()
    new = next(k for k in lists["practice_kommune"] if k in old_of)
    moved = lists["practice_kommune"] == new
    lists.loc[moved, "practice_kommune"] = old_of[new]
    persons = tiny_dataset.persons.copy()
    in_new = persons["grunnkrets"].str.startswith(new)
    persons.loc[in_new, "grunnkrets"] = old_of[new] + persons.loc[in_new, "grunnkrets"].str[4:]
    write_dataset(replace(tiny_dataset, lists=lists, persons=persons), tmp_path)
    priced = load_with_release(tmp_path, training=True)
    assert {(c.field, c.old[:4], c.new[:4]) for c in priced.code_changes} == {
        ("persons.grunnkrets", old_of[new], new),
        ("lists.practice_kommune", old_of[new], new),
    }
    assert (priced.dataset.lists["practice_kommune"] == new).sum() == moved.sum()
    assert (priced.dataset.persons["grunnkrets"].str.startswith(new)).sum() == in_new.sum()
    assert priced.release.name == f"data set {tmp_path.name}"
    lists.loc[lists.index[0], "practice_kommune"] = "1507"
    write_dataset(replace(tiny_dataset, lists=lists), tmp_path)
    with pytest.raises(SplitCodeError, match="1507 was split into 1508, 1580"):
        load_with_release(tmp_path)


def _ptb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ptb", *args], capture_output=True, text=True, timeout=120
    )


def test_ptb_validate_reports_the_release_the_fallback_and_mapped_codes(tiny_dataset, tmp_path):
    gk = tiny_dataset.grunnkretser.copy()
    gk.loc[gk.index[:1], "primary_only_share"] = np.nan  # Oslo's: falls back to... nothing
    persons = tiny_dataset.persons.copy()
    renumbered = CodeChanges.shipped().table.drop_duplicates("old", keep=False)
    old_of = dict(zip(renumbered["new"], renumbered["old"], strict=True))
    code = next(c for c in persons["grunnkrets"] if c[:4] in old_of)
    persons.loc[persons["grunnkrets"] == code, "grunnkrets"] = old_of[code[:4]] + code[4:]
    write_dataset(replace(tiny_dataset, persons=persons, grunnkretser=gk), tmp_path)
    (tmp_path / "release.json").write_text('{"name": "2025", "valid_from": "2025-01-01"}')
    refused = _ptb("validate", "--data", str(tmp_path))
    assert refused.returncode == 1
    assert "reference release 2025: kommune 0301 has no grunnkrets with an education" in (
        " ".join(refused.stderr.split())
    )
    gk.loc[gk.index[:1], "primary_only_share"] = 0.2
    gk.loc[gk.index[1:3], "primary_only_share"] = np.nan
    extra = gk.iloc[1:3].assign(
        grunnkrets=lambda f: f["grunnkrets"].str.slice(0, 6) + "99",
        primary_only_share=0.3,
    )
    grunnkretser = pd.concat([gk, extra], ignore_index=True)
    write_dataset(replace(tiny_dataset, persons=persons, grunnkretser=grunnkretser), tmp_path)
    result = _ptb("validate", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "reference release: 2025 (2025-01-01 to open)" in out
    # Stavanger's (in a bydel) takes its bydel's share, Eigersund's its kommune's.
    assert re.search(
        r"1 grunnkrets \(\d+ persons\) take their bydel's education share, "
        r"1 grunnkrets \(\d+ persons\) their kommune's",
        out,
    )
    assert f"code change: persons.grunnkrets {old_of[code[:4]] + code[4:]} -> {code}" in out
