"""A training records the release it was trained on and its education fallback in MLflow."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from mlflow import MlflowClient

from features.bundle import ModelBundle
from features.contract import Dataset, validate_dataset
from features.releases import Release
from features.synth import synthesise
from training.pipeline import TrainingOptions, train_and_register

pytestmark = pytest.mark.slow


def _suppressed(dataset: Dataset) -> Dataset:
    """Two grunnkretser without a published share: one in a bydel, one in a kommune without."""
    gk = dataset.grunnkretser.copy()
    kommune = gk["grunnkrets"].str.slice(0, 4)
    bydel_size = gk.groupby("bydel")["grunnkrets"].transform("size")
    kommune_size = gk.groupby(kommune)["grunnkrets"].transform("size")
    in_bydel = gk.index[bydel_size.fillna(0) >= 2][0]
    elsewhere = gk.index[gk["bydel"].isna() & (kommune_size >= 2)][0]
    gk.loc[[in_bydel, elsewhere], "primary_only_share"] = np.nan
    return replace(dataset, grunnkretser=gk)


def test_training_tags_the_release_and_counts_the_fallback(tmp_path):
    # Large enough that some kommuner and bydeler have several grunnkretser.
    published = validate_dataset(synthesise(300_000, 3), training=True)
    before = Release.from_dataset(published, "as synthesised").reference.fallback
    release = Release.from_dataset(_suppressed(published), "registry 2025")
    fallback = release.reference.fallback
    assert fallback.grunnkretser_bydel == before.grunnkretser_bydel + 1
    assert fallback.grunnkretser_kommune == before.grunnkretser_kommune + 1
    dataset = _suppressed(published)
    outcome = train_and_register(
        dataset,
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        artifact_root=str(tmp_path / "artifacts"),
        options=TrainingOptions(folds=2, challengers=False),
        release=release,
    )
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    for run_id in (outcome.parent_run_id, outcome.run_ids["model_2026"]):
        tags = client.get_run(run_id).data.tags
        assert tags["reference_release"] == "registry 2025"
        assert tags["education_fallback_grunnkretser_bydel"] == str(fallback.grunnkretser_bydel)
        assert tags["education_fallback_grunnkretser_kommune"] == str(fallback.grunnkretser_kommune)
        assert int(tags["education_fallback_persons_bydel"]) == fallback.persons_bydel > 0
    local = client.download_artifacts(outcome.run_ids["model_2026"], "bundle", str(tmp_path))
    assert ModelBundle.load(local).reference.release == "registry 2025"
