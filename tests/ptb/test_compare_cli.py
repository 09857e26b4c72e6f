"""``ptb compare`` on a registry trained by the real ``ptb train``: what it prints and prices."""

from __future__ import annotations

import json

import pytest

from features.contract import write_dataset
from tests.conftest import SMALL_DATA_ARGS
from tests.ptb.test_cli import run_ptb

PERIOD_AVERAGE_GRANT_NOK = 900.0  # the snapshot period's average grant (its release.json)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tiny_dataset):
    """A working directory with versions 1 and 2 registered, and a snapshot of another period."""
    root = tmp_path_factory.mktemp("compare")
    write_dataset(tiny_dataset, root / "data")
    write_dataset(tiny_dataset, root / "snapshot")
    manifest = {"name": "2027", "average_grant_nok": PERIOD_AVERAGE_GRANT_NOK}
    (root / "snapshot" / "release.json").write_text(json.dumps(manifest))
    result = run_ptb(
        "train", "--data", "data", "--folds", "2", "--no-challengers", *SMALL_DATA_ARGS, cwd=root
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_compare_without_a_snapshot_says_the_redistribution_was_not_computed(registry):
    result = run_ptb("compare", "1", "2", "--out", "plain.html", cwd=registry)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "redistribution: NOT computed" in result.stdout and "--snapshot" in result.stdout
    assert "predictive ratios" in result.stdout and (registry / "plain.html").exists()


def test_compare_prices_both_versions_at_the_snapshot_period_rate(registry, tiny_dataset):
    result = run_ptb("compare", "1", "2", "--snapshot", "snapshot", cwd=registry)
    assert result.returncode == 0, result.stderr[-3000:]
    budget = PERIOD_AVERAGE_GRANT_NOK * len(tiny_dataset.persons)
    assert f"total {budget:,.0f} -> {budget:,.0f} NOK a year" in result.stdout
    assert "release 2027, period open to open" in result.stdout
    assert "centrality classes:" in result.stdout and "NOT computed" not in result.stdout
