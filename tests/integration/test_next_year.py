"""Train on one year, price the next: grunnkretser renumbered and new, a kommune split.

Year 2023 has Haram inside Ålesund (1507); year 2024 has Ålesund (1508) and Haram (1580), every
7th grunnkrets renumbered (a third of their persons still on the old code) and more grunnkretser.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from features.contract import Dataset
from tests.conftest import SMALL_DATA_ARGS
from tests.integration.geography import SPLIT_OLD, write_year, year_2023, year_2024
from tests.integration.served import ptb_serve
from tests.ptb.test_cli import run_ptb
from tests.serving.conftest import person_body

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def years(tmp_path_factory):
    """A working directory with both years written and a model trained on 2023."""
    root = tmp_path_factory.mktemp("years")
    last_year = year_2023(30_000, 41)
    this_year, changes = year_2024(40_000, 42)
    write_year(last_year, root / "y2023", "registry-2023")
    write_year(this_year, root / "y2024", "registry-2024", changes)
    trained = run_ptb(
        "train", "--data", "y2023", "--folds", "2", "--no-challengers", *SMALL_DATA_ARGS, cwd=root
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    return root, last_year, this_year, changes


def _on_new_codes(dataset: Dataset, changes: pd.DataFrame) -> Dataset:
    new_code = dict(zip(changes["old"], changes["new"], strict=True))
    persons = dataset.persons.assign(grunnkrets=dataset.persons["grunnkrets"].replace(new_code))
    return replace(dataset, persons=persons)


def test_this_year_has_renumbered_and_new_grunnkretser_and_the_split(years):
    _, last_year, this_year, changes = years
    new_areas = set(this_year.grunnkretser["grunnkrets"]) - set(
        last_year.grunnkretser["grunnkrets"]
    )
    assert len(new_areas) > len(changes)  # renumbered ones and others never seen
    assert SPLIT_OLD in set(last_year.kommuner["kommune"])
    assert {"1508", "1580"} <= set(this_year.kommuner["kommune"])
    assert this_year.persons["grunnkrets"].isin(changes["old"]).any()  # persons on old codes


def test_ptb_grants_prices_old_codes_under_the_new_ones_and_says_so(years):
    root, _, this_year, changes = years
    result = run_ptb("grants", "--data", "y2024", "--out", "grants", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    out = " ".join(result.stdout.split())
    assert "trained on registry-2023" in out and "reference release registry-2024" in out
    old = this_year.persons.loc[this_year.persons["grunnkrets"].isin(changes["old"]), "grunnkrets"]
    first = old.iloc[0]
    new = changes.set_index("old").loc[first, "new"]
    assert f"code change: persons.grunnkrets {first} -> {new} (from 2024-01-01)" in out
    # The same persons recorded on the new codes get the very same grants.
    write_year(_on_new_codes(this_year, changes), root / "y2024-new", "registry-2024")
    again = run_ptb("grants", "--data", "y2024-new", "--out", "grants-new", cwd=root)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "code change" not in again.stdout
    priced = pd.read_parquet(root / "grants" / "person_grants.parquet")
    renumbered = pd.read_parquet(root / "grants-new" / "person_grants.parquet")
    pd.testing.assert_frame_equal(priced, renumbered)
    assert priced["grant_nok"].gt(0).all()


def test_a_data_set_on_the_split_kommune_is_refused_with_its_candidates(years):
    root, _, this_year, changes = years
    lists = this_year.lists.copy()
    lists.loc[lists.index[0], "practice_kommune"] = SPLIT_OLD
    write_year(replace(this_year, lists=lists), root / "y2024-split", "registry-2024", changes)
    result = run_ptb("grants", "--data", "y2024-split", "--out", "never", cwd=root)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "lists.practice_kommune: kommune 1507 was split into 1508, 1580" in message
    assert not (root / "never").exists()


def test_ptb_serve_prices_old_codes_under_new_ones_and_refuses_the_split(years):
    root, _, this_year, changes = years
    on_old = this_year.persons.index[this_year.persons["grunnkrets"].isin(changes["old"])][0]
    body = person_body(this_year, int(on_old))
    new = changes.set_index("old").loc[body["grunnkrets"], "new"]
    with ptb_serve(root, "--data", "y2024") as client:
        assert client.get("/readyz").json()["reference_release"] == "registry-2024"
        former = client.post("/v1/grants/person", json=body)
        current = client.post("/v1/grants/person", json={**body, "grunnkrets": new})
        assert former.status_code == current.status_code == 200, former.text
        assert former.json()["grant_nok"] == current.json()["grant_nok"]
        assert former.json()["code_changes"] == [
            {
                "field": "grunnkrets",
                "old": body["grunnkrets"],
                "new": new,
                "valid_from": "2024-01-01",
            }
        ]
        assert current.json()["code_changes"] == []
        split = client.post("/v1/grants/person", json={**body, "practice_kommune": SPLIT_OLD})
        assert split.status_code == 422
        assert split.json()["error"] == "split_code"
        assert split.json()["candidates"] == ["1508", "1580"]
        assert split.json()["reference_release"] == "registry-2024"
        whatif = client.post("/v1/whatif", json={"dampening": 0.5})
        assert whatif.status_code == 200, whatif.text
        assert whatif.json()["reference_release"] == "registry-2024"
