"""Provenance: enough on every run to say what produced a model and to produce it again.

- the source: the git commit (and whether the tree had uncommitted changes) when ptb runs from
  a checkout, else the installed package's version (MLflow records no commit when the entry
  point is a script inside a virtualenv);
- every installed distribution with its version (``environment/packages.txt``);
- the command line;
- the data: its path, fingerprint and a profile (row counts, age mix, mean cost, copayment
  distribution, refugee share, kommuner and grunnkretser) through ``mlflow.log_input``.

The pyfunc's pip requirements (``PYFUNC_REQUIREMENTS``) name every distribution the
``features`` package imports plus the estimators' libraries, pinned to the versions trained
with, so ``mlflow models serve`` can rebuild the environment.
"""

from __future__ import annotations

import importlib.metadata
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from features import CONTRACT_VERSION, Dataset
from training.lineage import ProfiledDataset

PACKAGE = "ptb"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
# What the pyfunc's code (the ``features`` package) imports, and what fitted the tariff and
# the challengers; pinned at training time.
PYFUNC_REQUIREMENTS = (
    "mlflow",
    "numpy",
    "pandas",
    "pandera",
    "pyarrow",
    "pydantic",
    "pydantic-settings",
    "pyyaml",
    "scipy",
    "statsmodels",
    "scikit-learn",
)
AGE_BANDS = (0, 6, 16, 40, 60, 80, 120)
COPAYMENT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
SCHEMA_SAMPLE = 1_000  # rows the persons' column types are read from


@dataclass(frozen=True)
class Source:
    """What code ran: a commit of a checkout, or a released package version."""

    package_version: str
    git_commit: str | None
    git_dirty: bool

    @property
    def label(self) -> str:
        if self.git_commit is None:
            return f"ptb {self.package_version} (installed package)"
        dirty = " with uncommitted changes" if self.git_dirty else ""
        return f"ptb {self.package_version} (git {self.git_commit}{dirty})"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source() -> Source:
    """The running code's commit if it is a git checkout, else the installed version."""
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    commit = _git("rev-parse", "HEAD") if (SOURCE_ROOT / ".git").exists() else None
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no")) if commit else False
    return Source(version, commit, dirty)


def installed_packages() -> list[str]:
    """Every installed distribution as ``name==version``, sorted."""
    found = {
        (dist.metadata["Name"] or "").lower(): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def pyfunc_requirements() -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in PYFUNC_REQUIREMENTS]


def data_profile(dataset: Dataset) -> dict:
    """A few figures that show what a training set held, and how two sets differ."""
    persons = dataset.persons
    age = persons["age"].to_numpy()
    bands = pd.cut(age, bins=list(AGE_BANDS), right=False)
    age_mix = pd.Series(bands).value_counts(normalize=True, sort=False).sort_index()
    copayment = persons["copayment_prev_year"].to_numpy(dtype="float64")
    cost = persons["cost"].to_numpy(dtype="float64") if "cost" in persons else np.array([])
    return {
        "rows": {table: int(n) for table, n in dataset.row_counts.items()},
        "age_mix": {str(band): round(float(share), 5) for band, share in age_mix.items()},
        "share_male": round(float((persons["sex"].astype(str) == "M").mean()), 5),
        "mean_cost_nok": round(float(np.nanmean(cost)), 2) if cost.size else None,
        "copayment": {
            "share_zero": round(float((copayment == 0).mean()), 5),
            "mean_nok": round(float(copayment.mean()), 2),
            **{
                f"q{int(q * 100)}_nok": round(float(np.quantile(copayment, q)), 2)
                for q in COPAYMENT_QUANTILES
            },
        },
        "refugee_share": round(float(persons["refugee_first_year"].astype(bool).mean()), 6),
        "kommuner": int(dataset.lists["practice_kommune"].nunique()),
        "grunnkretser": int(persons["grunnkrets"].nunique()),
    }


def command_text(command: list[str] | None) -> str:
    """The command line that ran (``ptb`` and its arguments), quoted for a shell."""
    return shlex.join(command if command is not None else ["ptb", *sys.argv[1:]])


@dataclass(frozen=True)
class Provenance:
    """What a training ran: its source, command and data, as tags, and the data's profile."""

    tags: dict[str, str]
    profile: dict
    data_fingerprint: str
    data_path: str | None

    def log_on_model_run(self, dataset: Dataset) -> None:
        """The same record on a model's own run: the run its registered version points to."""
        mlflow.set_tags(self.tags)
        log_data_input(dataset, self.data_fingerprint, self.data_path, self.profile)


def log_provenance(
    dataset: Dataset, data_fingerprint: str, data_path: str | None, command: list[str] | None
) -> Provenance:
    """Record source, packages, command and data on the active run (the training's)."""
    found = source()
    command_line = command_text(command)
    profile = data_profile(dataset)
    tags = {
        "ptb.version": found.package_version,
        "ptb.source": found.label,
        "ptb.command": command_line,
        "ptb.data_path": str(Path(data_path).resolve()) if data_path else "(in memory)",
        "ptb.data_fingerprint": data_fingerprint,
        "ptb.contract_version": str(CONTRACT_VERSION),
    }
    if found.git_commit is not None:
        tags["mlflow.source.git.commit"] = found.git_commit
        tags["ptb.git_dirty"] = str(found.git_dirty).lower()
    mlflow.set_tags(tags)
    mlflow.log_text("\n".join(installed_packages()) + "\n", "environment/packages.txt")
    mlflow.log_dict(profile, "data/profile.json")
    log_data_input(dataset, data_fingerprint, data_path, profile)
    return Provenance(tags, profile, data_fingerprint, data_path)


def log_data_input(
    dataset: Dataset, data_fingerprint: str, data_path: str | None, profile: dict
) -> None:
    """The training persons as an MLflow dataset input, with the profile as its input tags."""
    source_uri = Path(data_path).resolve().as_uri() if data_path else "in-memory"
    frame = dataset.persons
    logged = ProfiledDataset(
        source=source_uri,
        name=f"persons {data_fingerprint[:12]}",
        digest=data_fingerprint[:36],
        profile={"num_rows": len(frame), "num_elements": int(frame.size)},
        schema=infer_signature(frame.head(SCHEMA_SAMPLE)).inputs,  # the columns and types
    )
    tags = {
        "fingerprint": data_fingerprint,
        **{f"rows_{k}": str(v) for k, v in profile["rows"].items()},
        "age_mix": json.dumps(profile["age_mix"]),
        "mean_cost_nok": str(profile["mean_cost_nok"]),
        "copayment": json.dumps(profile["copayment"]),
        "refugee_share": str(profile["refugee_share"]),
        "kommuner": str(profile["kommuner"]),
        "grunnkretser": str(profile["grunnkretser"]),
    }
    mlflow.log_input(logged, context="training", tags=tags)
