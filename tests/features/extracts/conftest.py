"""Built scenario extracts, shared by the rule and reconciliation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.extracts.build import BuildOutputs, build_dataset
from tests.features.extracts import scenario


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scenario.write(scenario.tables(), tmp_path_factory.mktemp("scenario") / "extracts")


@pytest.fixture(scope="session")
def scenario_build(scenario_dir: Path) -> BuildOutputs:
    return build_dataset(scenario_dir, scenario.YEAR)
