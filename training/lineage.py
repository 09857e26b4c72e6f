"""Dataset lineage in MLflow: a run trained on a built data set names the extracts behind it.

``ptb build`` writes ``build.json`` beside the data set (``features.extracts.lineage``). The
training run logs it with ``mlflow.log_input`` as a dataset whose source is the extracts
directory and whose digest is the build's fingerprint, so a registered model traces back to
the exact registry extracts. MLflow keeps at most 36 characters of a digest: the first 32 hex
digits (128 bits) are the digest, the whole fingerprint is a tag.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.types.schema import Schema

from features.extracts.lineage import Lineage, read_lineage

DIGEST_CHARS = 32


class ProfiledDataset(MetaDataset):
    """A dataset MLflow records by source, digest, schema and the profile given here.

    MLflow never reads its rows: its own pandas dataset profiles and infers the schema of every
    row when logged, which took a minute for the 5.5 million persons of the country.
    """

    def __init__(
        self,
        source: str,
        name: str,
        digest: str,
        profile: dict[str, object],
        schema: Schema | None = None,
    ):
        self._profile = profile
        super().__init__(
            source=resolve_dataset_source(source), name=name, digest=digest, schema=schema
        )

    @property
    def profile(self) -> dict[str, object]:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        """MLflow's record of the dataset, with the profile (MetaDataset leaves it out)."""
        return {**super().to_dict(), "profile": json.dumps(self.profile)}


def extracts_dataset(lineage: Lineage) -> ProfiledDataset:
    """The extracts as an MLflow dataset: source = their directory, digest = the fingerprint."""
    return ProfiledDataset(
        source=Path(lineage.extracts).as_uri(),
        name=f"registry extracts, outcome year {lineage.year}",
        digest=lineage.fingerprint[:DIGEST_CHARS],
        profile={
            "files": len(lineage.files),
            "outcome_year": lineage.year,
            "reference_date": lineage.reference_date,
            "engine": lineage.engine,
            "extracts_version": lineage.extracts_version,
        },
    )


def log_extracts_lineage(data_dir: str | Path | None) -> Lineage | None:
    """Log the extracts a data set was built from, if ``ptb build`` made it; else nothing."""
    lineage = read_lineage(data_dir) if data_dir is not None else None
    if lineage is None:
        return None
    mlflow.log_input(
        extracts_dataset(lineage),
        context="training",
        tags={
            "fingerprint": lineage.fingerprint,
            "outcome_year": str(lineage.year),
            "reference_date": lineage.reference_date,
            "engine": lineage.engine,
            "rules_digest": lineage.rules_digest,
        },
    )
    mlflow.set_tag("extracts_fingerprint", lineage.fingerprint)
    return lineage
