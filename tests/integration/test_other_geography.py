"""A model trained on one synthetic data set prices another: other seed, other kommuner.

The model's effects per indicator level stay the model's own; the levels come from the
priced data set's own release, and its persons spend the period's budget.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.indicators import derive_features, persons_with_practice
from features.releases import Release
from features.synth import synthesise
from serving.model_store import ModelStore
from tests.conftest import SMALL_DATA_ARGS
from tests.integration.geography import without_counties, write_year
from tests.integration.served import ptb_serve
from tests.ptb.test_cli import run_ptb
from tests.serving.conftest import list_body, person_body

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A working directory: data set ``a`` (trained on, no Vestland) and ``b`` (no Nordland)."""
    root = tmp_path_factory.mktemp("geography")
    first = without_counties(synthesise(30_000, 31), ("46",))
    second = without_counties(synthesise(40_000, 32), ("18",))
    write_year(first, root / "a", "registry-a")
    write_year(second, root / "b", "registry-b")
    trained = run_ptb(
        "train", "--data", "a", "--folds", "2", "--no-challengers", *SMALL_DATA_ARGS, cwd=root
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    return root, first, second


@pytest.fixture(scope="module")
def grants_b(place):
    """``ptb grants --data b``: its exit, its report and the person grants it wrote."""
    root = place[0]
    result = run_ptb("grants", "--data", "b", "--out", "grants-b", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, pd.read_parquet(root / "grants-b" / "person_grants.parquet")


def test_the_two_data_sets_cover_different_kommuner(place):
    _, first, second = place
    only_second = set(second.kommuner["kommune"]) - set(first.kommuner["kommune"])
    assert any(k.startswith("46") for k in only_second)
    assert not set(second.grunnkretser["grunnkrets"]) <= set(first.grunnkretser["grunnkrets"])


def test_ptb_grants_prices_the_other_data_set_with_its_own_release(place, grants_b):
    second = place[2]
    result, persons = grants_b
    out = " ".join(result.stdout.split())
    assert "trained on registry-a" in out and "reference release registry-b" in out
    assert len(persons) == len(second.persons)
    # The rate makes the priced persons spend the period's budget: 841.80 NOK a person.
    assert persons["grant_nok"].sum() == pytest.approx(841.80 * len(persons), abs=len(persons))


def test_the_weights_per_indicator_level_are_the_models_own(place, grants_b):
    """Each person's weight is the model's effects of the person's levels, as in its table,
    with the levels taken from the priced data set's release."""
    root, _, second = place
    bundle = ModelStore(f"sqlite:///{root}/mlruns/mlflow.db", "ptb").get("champion").bundle
    features = derive_features(
        persons_with_practice(second),
        Release.from_dataset(second, "registry-b").reference,
        bundle.indicators,
    )
    table = bundle.weight_table
    expected_cost = np.zeros(len(features))
    for factor, rows in table.groupby("factor"):
        effect = rows.set_index("level_code")["effect_nok"]
        expected_cost += effect.reindex(features[factor]).to_numpy()
    dampening = bundle.scheme.dampening
    weight = (1 - dampening) * expected_cost / bundle.mean_cost_nok + dampening
    priced = grants_b[1]
    np.testing.assert_allclose(priced["weight"].to_numpy(), weight, rtol=1e-9)
    # A kommune the model never saw (Vestland) is priced with its own centrality class.
    vestland = second.persons["list_id"].isin(
        second.lists.loc[second.lists["practice_kommune"].str.startswith("46"), "list_id"]
    )
    assert vestland.any() and np.isfinite(priced.loc[vestland.to_numpy(), "weight"]).all()


def test_ptb_serve_data_prices_persons_lists_settlement_and_whatif(place, grants_b):
    root, _, second = place
    priced = grants_b[1].set_index("person_id")
    with ptb_serve(root, "--data", "b") as client:
        ready = client.get("/readyz").json()
        assert (ready["reference_release"], ready["rate_basis"]) == ("registry-b", "snapshot")
        info = client.get("/v1/model").json()
        assert info["trained_on_release"] == "registry-a"
        assert info["reference_release"]["name"] == "registry-b"
        for row in (0, 1, len(second.persons) - 1):
            person = client.post("/v1/grants/person", json=person_body(second, row))
            assert person.status_code == 200, person.text
            answer = person.json()
            assert answer["reference_release"] == "registry-b"
            expected = priced.loc[second.persons["person_id"].iloc[row], "grant_nok"]
            assert answer["grant_nok"] == pytest.approx(expected, abs=0.005)
        list_id = str(second.lists["list_id"].iloc[0])
        posted = client.post("/v1/grants/list", json=list_body(second, list_id))
        looked_up = client.get(f"/v1/grants/lists/{list_id}")
        assert posted.status_code == looked_up.status_code == 200, looked_up.text
        assert posted.json()["total_nok"] == looked_up.json()["total_nok"]
        export = client.get("/v1/grants/lists", params={"format": "csv"})
        assert export.status_code == 200
        assert export.headers["x-ptb-reference-release"] == "registry-b"
        assert len(export.text.strip().splitlines()) == len(second.lists) + 1
        whatif = client.post("/v1/whatif", json={"dampening": 0.5})
        assert whatif.status_code == 200, whatif.text
        assert whatif.json()["reference_release"] == "registry-b"
        assert whatif.json()["persons"] == len(second.persons)
