"""Reference releases: the area facts of one period, apart from any model.

A model is effects per indicator level; which level a person is in depends on facts of the
period being paid: the education share of the person's grunnkrets and the centrality class of
the kommune. A *release* holds those facts for one period:

- kommuner: number, name, centrality class, population (optional);
- grunnkretser: code, education share (empty where SSB suppresses it), bydel where the kommune
  has bydeler, and optionally ``residents`` (the persons that weight the fallback);
- the period it is valid for, its own code changes and optionally the period's average grant.

The package ships one release (``SHIPPED_RELEASE``); a data set's own ``kommuner`` and
``grunnkretser`` tables are the release for that data set. ``ReferenceTables`` is the lookup
view the indicators read, built once per release.

Missing education shares fall back, person-weighted: a grunnkrets without a share takes its
bydel's share (the mean of the bydel's grunnkretser that have one, weighted by residents), else
its kommune's. Every fallback is counted (``EducationFallback``); the rule is
``features.education_fallback``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from features.code_changes import CodeChange, CodeChanges
from features.contract import Dataset, read_dataset, validate_dataset
from features.education_fallback import EducationFallback, education_shares
from features.errors import ReleaseError

SHIPPED_RELEASE = "2024"
RELEASE_MANIFEST = "release.json"
CODE_CHANGES_FILE = "code_changes.csv"
KOMMUNER_FILE = "kommuner.parquet"
GRUNNKRETSER_FILE = "grunnkretser.parquet"


@dataclass(frozen=True)
class ReferenceTables:
    """Area facts the indicators look up: education shares and centrality classes.

    Built from the release of the period being paid (``Release.reference``); the shares have
    the fallback applied. ``release`` names the release in answers and errors.
    """

    grunnkrets_share: pd.Series  # primary_only_share by grunnkrets code, no gaps
    kommune_share: pd.Series  # person-weighted primary_only_share by kommune, for the 2023 rule
    kommune_centrality: pd.Series  # SSB centrality class 1-6 by kommune code
    release: str = ""
    code_changes: CodeChanges = field(default_factory=CodeChanges.empty)
    bydel_share: pd.Series | None = None  # person-weighted primary_only_share by bydel
    grunnkrets_bydel: pd.Series | None = None  # bydel code by grunnkrets, where there is one
    kommune_population: pd.Series | None = None  # residents by kommune, where the release has it
    fallback: EducationFallback = field(default_factory=EducationFallback)
    # By grunnkrets: the share of its bydel where it has one, else of its kommune (the 2023
    # rule's "kommune or bydel"). A bundle saves it; else it is derived from the tables above.
    district_share: pd.Series | None = None

    # The same tables as dictionaries, built once: a request looks up a handful of codes, and
    # a dictionary answers that faster than an index does.
    @cached_property
    def grunnkrets_shares(self) -> dict[str, float]:
        return dict(zip(self.grunnkrets_share.index, self.grunnkrets_share.to_numpy(), strict=True))

    @cached_property
    def kommune_shares(self) -> dict[str, float]:
        return dict(zip(self.kommune_share.index, self.kommune_share.to_numpy(), strict=True))

    @cached_property
    def district_shares(self) -> dict[str, float]:
        """Each grunnkrets's kommune-or-bydel share: its bydel's where it has one, else its
        kommune's (a bundle from before bydeler, or a release without them: the kommune's)."""
        if self.district_share is not None:
            table = self.district_share
            return dict(zip(table.index, table.to_numpy(), strict=True))
        kommune = self.kommune_shares
        bydel_of = {} if self.grunnkrets_bydel is None else dict(self.grunnkrets_bydel.items())
        bydel = {} if self.bydel_share is None else dict(self.bydel_share.items())
        return {
            code: bydel.get(bydel_of.get(code), kommune[code[:4]])
            for code in self.grunnkrets_shares
        }

    @cached_property
    def kommune_centralities(self) -> dict[str, int]:
        table = self.kommune_centrality
        return dict(zip(table.index, table.to_numpy(), strict=True))

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> ReferenceTables:
        """The data set's own tables as its release; residents are its listed persons."""
        return Release.from_dataset(dataset).reference


@dataclass(frozen=True)
class Release:
    """The reference facts of one period; see the module docstring."""

    name: str
    kommuner: pd.DataFrame
    grunnkretser: pd.DataFrame
    valid_from: str | None = None
    valid_to: str | None = None
    code_changes: CodeChanges = field(default_factory=CodeChanges.shipped)
    average_grant_nok: float | None = None

    @property
    def period(self) -> str:
        """The period as text: ``2024-01-01 to 2024-12-31``, open ends shown as such."""
        return f"{self.valid_from or 'open'} to {self.valid_to or 'open'}"

    def describe(self) -> dict[str, object]:
        """What an answer says about the release: name, period, size, fallback counts."""
        return {
            "name": self.name,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "kommuner": len(self.kommuner),
            "grunnkretser": len(self.grunnkretser),
            **self.reference.fallback.as_dict(),
        }

    @cached_property
    def reference(self) -> ReferenceTables:
        """The lookup view of this release, with the education fallback applied."""
        gk = self.grunnkretser
        residents = (
            gk["residents"].to_numpy(dtype="int64")
            if "residents" in gk
            else np.zeros(len(gk), dtype="int64")
        )
        shares, kommune_share, bydel_share, fallback = education_shares(gk, residents, self.name)
        kommuner = self.kommuner.set_index(self.kommuner["kommune"].astype("string"))
        bydel = None
        if "bydel" in gk:
            has_bydel = gk["bydel"].notna().to_numpy()
            bydel = pd.Series(
                gk["bydel"].to_numpy(dtype=object)[has_bydel],
                index=pd.Index(gk["grunnkrets"].astype("string").to_numpy()[has_bydel]),
            )
        return ReferenceTables(
            grunnkrets_share=shares,
            kommune_share=kommune_share,
            kommune_centrality=kommuner["centrality"].astype("int64"),
            release=self.name,
            code_changes=self.code_changes,
            bydel_share=bydel_share,
            grunnkrets_bydel=bydel,
            kommune_population=(
                kommuner["population"].astype("int64") if "population" in kommuner else None
            ),
            fallback=fallback,
        )

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        name: str = "data set",
        *,
        directory: str | Path | None = None,
    ) -> Release:
        """A data set's own tables as a release; its listed persons weight the fallback.

        ``directory`` may hold ``release.json`` (name, period, average grant) and
        ``code_changes.csv`` (the data set's own old -> new codes, on top of the shipped ones).
        """
        residents = dataset.persons["grunnkrets"].astype("string").value_counts()
        grunnkretser = dataset.grunnkretser.assign(
            residents=residents.reindex(
                dataset.grunnkretser["grunnkrets"].astype("string"), fill_value=0
            ).to_numpy(dtype="int64")
        )
        manifest: dict = {}
        changes = CodeChanges.shipped()
        if directory is not None:
            folder = Path(directory)
            manifest = _read_manifest(folder, name)
            if (folder / CODE_CHANGES_FILE).exists():
                changes = changes.combined(CodeChanges.read(folder / CODE_CHANGES_FILE))
        return cls(
            name=str(manifest.get("name", name)),
            kommuner=dataset.kommuner,
            grunnkretser=grunnkretser,
            valid_from=manifest.get("valid_from"),
            valid_to=manifest.get("valid_to"),
            code_changes=changes,
            average_grant_nok=manifest.get("average_grant_nok"),
        )

    def save(self, directory: str | Path) -> Path:
        """Write the release as a directory: two Parquet tables, a manifest, its code changes."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.kommuner.to_parquet(folder / KOMMUNER_FILE, index=False)
        self.grunnkretser.to_parquet(folder / GRUNNKRETSER_FILE, index=False)
        self.code_changes.table.to_csv(folder / CODE_CHANGES_FILE, index=False)
        manifest = {
            "name": self.name,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "average_grant_nok": self.average_grant_nok,
        }
        (folder / RELEASE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, directory: str | Path) -> Release:
        """A release saved with ``save``; its tables are checked like a data set's."""
        folder = Path(directory)
        for needed in (RELEASE_MANIFEST, KOMMUNER_FILE, GRUNNKRETSER_FILE):
            if not (folder / needed).exists():
                raise ReleaseError(str(folder), f"{needed} is missing")
        manifest = _read_manifest(folder, str(folder))
        changes = (
            CodeChanges.read(folder / CODE_CHANGES_FILE)
            if (folder / CODE_CHANGES_FILE).exists()
            else CodeChanges.shipped()
        )
        kommuner = pd.read_parquet(folder / KOMMUNER_FILE)
        grunnkretser = pd.read_parquet(folder / GRUNNKRETSER_FILE)
        for column in ("kommune", "name", "centrality"):
            if column not in kommuner:
                raise ReleaseError(manifest["name"], f"kommuner.{column} is missing")
        for column in ("grunnkrets", "primary_only_share"):
            if column not in grunnkretser:
                raise ReleaseError(manifest["name"], f"grunnkretser.{column} is missing")
        return cls(
            name=str(manifest["name"]),
            kommuner=kommuner.assign(kommune=kommuner["kommune"].astype("string")),
            grunnkretser=grunnkretser.assign(
                grunnkrets=grunnkretser["grunnkrets"].astype("string")
            ),
            valid_from=manifest.get("valid_from"),
            valid_to=manifest.get("valid_to"),
            code_changes=changes,
            average_grant_nok=manifest.get("average_grant_nok"),
        )

    @classmethod
    def named(cls, name_or_path: str | Path | None = None) -> Release:
        """A shipped release by name (default ``SHIPPED_RELEASE``) or a release directory."""
        name = str(name_or_path or SHIPPED_RELEASE)
        if Path(name).is_dir():
            return cls.load(name)
        shipped = shipped_releases()
        if name not in shipped:
            raise ReleaseError(
                name, f"no such release; shipped: {', '.join(shipped)}, or give a directory"
            )
        with resources.as_file(
            resources.files("features").joinpath("reference", "releases", name)
        ) as folder:
            return cls.load(folder)


def shipped_releases() -> list[str]:
    """The names of the releases that ship with the package."""
    folder = resources.files("features").joinpath("reference", "releases")
    return sorted(entry.name for entry in folder.iterdir() if entry.is_dir())


def _read_manifest(folder: Path, default_name: str) -> dict:
    path = folder / RELEASE_MANIFEST
    if not path.exists():
        return {"name": default_name}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReleaseError(str(path), f"cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or not manifest.get("name"):
        raise ReleaseError(str(path), "must be a JSON object with at least a name")
    manifest.setdefault("name", default_name)
    return manifest


def with_current_codes(
    dataset: Dataset, changes: CodeChanges, release: str
) -> tuple[Dataset, list[CodeChange]]:
    """A data set (as read, unchecked) whose persons or lists use old codes, rewritten to the
    codes of its own ``grunnkretser`` and ``kommuner``; the changes applied are returned.

    A split code raises ``SplitCodeError``; codes with no recorded change are left for the
    contract to refuse.
    """
    applied: list[CodeChange] = []
    tables = {name: dataset.table(name) for name in ("persons", "lists")}
    for table, column, kind, own, own_column in (
        ("persons", "grunnkrets", "grunnkrets", "grunnkretser", "grunnkrets"),
        ("lists", "practice_kommune", "kommune", "kommuner", "kommune"),
    ):
        frame = tables[table]
        if column not in frame or not pd.api.types.is_string_dtype(frame[column].dtype):
            continue
        known = set(dataset.table(own)[own_column].astype(str))
        codes = frame[column].dropna().astype(str).unique()
        found = changes.mapping(kind, codes, known, field=f"{table}.{column}", release=release)
        if found:
            new = {old: change.new for old, change in found.items()}
            tables[table] = frame.assign(**{column: frame[column].replace(new)})
            applied += found.values()
    return Dataset(
        tables["persons"], tables["lists"], dataset.kommuner, dataset.grunnkretser
    ), applied


@dataclass(frozen=True)
class PricedDataset:
    """A data set checked against the contract with its own tables as the release."""

    dataset: Dataset
    release: Release
    code_changes: tuple[CodeChange, ...]


def load_with_release(directory: str | Path, *, training: bool = False) -> PricedDataset:
    """Read a data set, map old codes through the code changes, check it, name its release.

    The release is named by ``release.json`` in the directory, else ``data set <dir name>``.
    """
    folder = Path(directory)
    raw = read_dataset(folder)
    name = str(_read_manifest(folder, f"data set {folder.resolve().name}")["name"])
    changes = CodeChanges.shipped()
    if (folder / CODE_CHANGES_FILE).exists():
        changes = changes.combined(CodeChanges.read(folder / CODE_CHANGES_FILE))
    current, applied = with_current_codes(raw, changes, name)
    dataset = validate_dataset(current, training=training)
    release = Release.from_dataset(dataset, name, directory=folder)
    return PricedDataset(dataset, release, tuple(applied))
