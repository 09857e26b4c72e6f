"""The bundle cache on disk: verified copies only, a bad copy moved aside and its refusal named."""

from __future__ import annotations

from pathlib import Path

import pytest

from features import BundleError, ModelBundle
from serving.bundle_cache import CACHE_INDEX, BundleCache


@pytest.fixture
def kept(bundle: ModelBundle, tmp_path: Path) -> BundleCache:
    """A cache holding version 3 of run ``run-a``, indexed as the store indexes it."""
    cache = BundleCache(tmp_path / "cache" / "ptb")
    cache.keep(bundle.save(tmp_path / "download"), "3", "run-a")
    cache.remember(
        aliases={"champion": "3"}, versions={"3": {"run_id": "run-a", "name": bundle.name}}
    )
    return cache


def test_a_kept_version_is_read_back_verified_with_its_run_and_alias(kept, bundle):
    assert kept.bundle("3", "run-a").rate_nok == bundle.rate_nok
    assert kept.bundle("3").rate_nok == bundle.rate_nok
    assert (kept.versions(), kept.run_id("3"), kept.alias_version("champion")) == (
        {"3"},
        "run-a",
        "3",
    )
    assert (kept.directory / CACHE_INDEX).is_file()
    assert not list(kept.directory.glob(".*partial"))


def test_a_copy_of_another_run_or_not_indexed_is_not_served(kept):
    assert kept.bundle("3", "run-b") is None
    assert kept.bundle("4") is None
    assert kept.run_id("4") is None
    assert kept.verify("4") is None


def test_a_copy_failing_its_checksums_is_moved_aside_and_its_refusal_named(kept):
    table = kept.directory / "v3" / "weight_table.csv"
    table.write_text(table.read_text().replace("age_sex", "age_sez", 1))
    with pytest.raises(BundleError, match="weight_table.csv"):
        kept.verify("3")
    assert "weight_table.csv" in (kept.refusal("3") or "")
    assert len(list(kept.directory.glob(".v3.corrupt-*"))) == 1
    assert kept.bundle("3") is None


def test_an_unwritable_cache_is_logged_not_raised(bundle, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cache = BundleCache(blocker / "ptb")
    cache.keep(bundle.save(tmp_path / "download"), "1", "run-a")
    cache.remember(versions={"1": {"run_id": "run-a"}})
    assert "model cache" in caplog.text and "not written" in caplog.text
    assert cache.versions() == set()
