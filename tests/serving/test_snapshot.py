"""The registry snapshot: persons grouped by list once, grants computed once per version."""

from __future__ import annotations

import numpy as np
import pytest

from features.contract import write_dataset
from features.errors import ContractError
from features.grants import PersonScorer
from serving.snapshot import Snapshot


def test_persons_of_a_list_are_its_persons_in_data_set_order(snapshot, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[3])
    expected = np.flatnonzero((tiny_dataset.persons["list_id"] == list_id).to_numpy())
    np.testing.assert_array_equal(snapshot.persons_of(list_id), expected)
    assert len(snapshot.persons_of("NO-SUCH-LIST")) == 0


def test_grants_are_computed_once_per_version(snapshot, bundle, monkeypatch):
    scorer = PersonScorer(bundle)
    first = snapshot.grants("test-version", scorer)
    monkeypatch.setattr(snapshot, "score", lambda *args: pytest.fail("scored twice"))
    assert snapshot.grants("test-version", scorer) is first


def test_snapshot_lists_spend_the_budget_within_one_nok(snapshot, bundle):
    grants = snapshot.score("any", PersonScorer(bundle))
    assert grants.list_total_nok.sum() == pytest.approx(bundle.budget_nok, abs=1.0)
    assert grants.list_persons.sum() == snapshot.n_persons
    rows = list(snapshot.list_rows(grants))
    assert [row.list_id for row in rows] == sorted(row.list_id for row in rows)


def test_a_snapshot_that_breaks_the_contract_is_refused(tiny_dataset, tmp_path):
    broken = tiny_dataset.persons.assign(sex="X")
    directory = write_dataset(
        type(tiny_dataset)(
            broken, tiny_dataset.lists, tiny_dataset.kommuner, tiny_dataset.grunnkretser
        ),
        tmp_path / "broken",
    )
    with pytest.raises(ContractError, match="persons.sex"):
        Snapshot.load(directory)
