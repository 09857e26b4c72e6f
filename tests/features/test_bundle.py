"""A model bundle on disk: what is saved is what loads, and a changed file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features import BundleError, ModelBundle, persons_with_practice
from features.bundle import GRUNNKRETSER, KOMMUNER, MANIFEST, WEIGHT_TABLE


@pytest.fixture
def saved(bundle: ModelBundle, tmp_path: Path) -> Path:
    return bundle.save(tmp_path / "bundle")


def test_a_saved_bundle_loads_and_prices_as_the_original(bundle, saved, tiny_dataset):
    loaded = ModelBundle.load(saved)
    assert loaded.name == bundle.name and loaded.rate_nok == bundle.rate_nok
    persons = persons_with_practice(tiny_dataset).head(200)
    before = bundle.score(persons).grant_nok
    after = loaded.score(persons).grant_nok
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", [WEIGHT_TABLE, GRUNNKRETSER, KOMMUNER])
def test_a_file_that_differs_from_its_checksum_is_refused(saved, name):
    path = saved / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"{name} is missing or corrupted"):
        ModelBundle.load(saved)


def test_a_missing_file_is_refused(saved):
    (saved / KOMMUNER).unlink()
    with pytest.raises(BundleError, match=f"{KOMMUNER} is missing or corrupted"):
        ModelBundle.load(saved)


def test_an_unreadable_manifest_is_refused_naming_it(saved):
    (saved / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match=f"unreadable {MANIFEST}"):
        ModelBundle.load(saved)


def test_the_manifest_holds_a_checksum_for_every_data_file(saved):
    manifest = json.loads((saved / MANIFEST).read_text())
    assert set(manifest["sha256"]) == {WEIGHT_TABLE, GRUNNKRETSER, KOMMUNER}
