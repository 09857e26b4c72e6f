"""The registry snapshot the service answers list look-ups from.

A snapshot is a data set in the contract's layout (``load_with_release``: old codes mapped,
then validated) read once at start-up; its own kommuner and grunnkretser are its release. Persons are grouped by list once; each model version's person and list grants are
computed once, vectorised through ``features.grants``, and kept for the versions used last.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features import (
    CodeChange,
    Dataset,
    PersonScorer,
    PersonTable,
    Release,
    list_totals,
    load_with_release,
    round_nok,
)

KEEP_VERSIONS = 4


@dataclass(frozen=True)
class ListRow:
    """One list's grant for one model version: the figures a settlement reads."""

    list_id: str
    practice_kommune: str
    persons: int
    total_nok: float  # sum of the unrounded person grants, rounded once to øre
    mean_weight: float | None


@dataclass(frozen=True)
class SnapshotGrants:
    """Every person's and every list's grant in a snapshot under one model version."""

    key: str
    weight: np.ndarray  # per person, in the data set's order
    grant_nok: np.ndarray  # per person, unrounded annual NOK
    list_persons: np.ndarray
    list_total_nok: np.ndarray  # per list, rounded once
    list_mean_weight: np.ndarray


class Snapshot:
    """A validated data set with persons grouped by list and grants cached per model version."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        source: str = "",
        keep_versions: int = KEEP_VERSIONS,
        release: Release | None = None,
        code_changes: tuple[CodeChange, ...] = (),
    ):
        self.dataset = dataset
        self.source = source
        self.release = release or Release.from_dataset(dataset, f"snapshot {source}".strip())
        self.code_changes = code_changes  # old codes in the data set, mapped when it was read
        self.table = PersonTable.from_dataset(dataset)
        self._position = {list_id: i for i, list_id in enumerate(self.table.list_ids)}
        # Persons grouped by list once: the persons of list i are order[offsets[i]:offsets[i+1]].
        counts = np.bincount(self.table.list_codes, minlength=self.n_lists)
        self._order = np.argsort(self.table.list_codes, kind="stable")
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        # A posted list's utjamningstilskudd reads its kommune's average list length and
        # population; worked out once here, as plain dicts (NaN where unknown) it reads on
        # every request.
        average = pd.Series(counts, index=pd.Index(self.table.practice_kommune)).groupby(level=0)
        self.kommune_average_list_length: dict[str, float] = {
            str(kommune): float(length) for kommune, length in average.mean().items()
        }
        kommuner = dataset.kommuner.set_index("kommune")
        self.kommune_population: dict[str, float] | None = (
            {
                str(kommune): float(n)
                for kommune, n in kommuner["population"].astype("float64").items()
            }
            if "population" in kommuner.columns
            else None
        )
        self._keep = keep_versions
        self._grants: OrderedDict[str, SnapshotGrants] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    @classmethod
    def load(cls, directory: str | Path) -> Snapshot:
        """Read a data set directory as the snapshot: old codes mapped, then validated.

        A split code or a broken contract raises here, before the service binds its port.
        """
        priced = load_with_release(directory)
        return cls(
            priced.dataset,
            source=str(directory),
            release=priced.release,
            code_changes=priced.code_changes,
        )

    @property
    def n_persons(self) -> int:
        return len(self.table.list_codes)

    @property
    def n_lists(self) -> int:
        return len(self.table.list_ids)

    def list_position(self, list_id: str) -> int | None:
        return self._position.get(list_id)

    def persons_of(self, list_id: str) -> np.ndarray:
        """Row positions (in ``dataset.persons``) of the persons on a list; empty if unknown."""
        position = self.list_position(list_id)
        if position is None:
            return np.empty(0, dtype=np.intp)
        return self._order[self._offsets[position] : self._offsets[position + 1]]

    def grants(self, key: str, scorer: PersonScorer) -> SnapshotGrants:
        """Person and list grants under a model (``key`` names its version); computed once."""
        found = self.cached_grants(key)
        if found is not None:
            return found
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            found = self.cached_grants(key)
            if found is None:
                found = self.score(key, scorer)
                with self._lock:
                    self._grants[key] = found
                    while len(self._grants) > self._keep:
                        self._grants.popitem(last=False)
        return found

    def score(self, key: str, scorer: PersonScorer) -> SnapshotGrants:
        """Price the whole snapshot (uncached); what ``grants`` caches and the benchmark times."""
        scores = scorer.score(self.table.columns)
        persons, total, mean_weight = list_totals(
            self.table.list_codes, self.n_lists, scores.weight, scores.grant_nok
        )
        return SnapshotGrants(
            key, scores.weight, scores.grant_nok, persons, round_nok(total), mean_weight
        )

    def list_row(self, grants: SnapshotGrants, position: int) -> ListRow:
        persons = int(grants.list_persons[position])
        mean_weight = float(grants.list_mean_weight[position]) if persons else None
        return ListRow(
            list_id=str(self.table.list_ids[position]),
            practice_kommune=str(self.table.practice_kommune[position]),
            persons=persons,
            total_nok=float(grants.list_total_nok[position]),
            mean_weight=mean_weight,
        )

    def list_rows(self, grants: SnapshotGrants) -> Iterator[ListRow]:
        """Every list in ``list_id`` order."""
        for _, row in self.list_rows_with_positions(grants):
            yield row

    def list_rows_with_positions(self, grants: SnapshotGrants) -> Iterator[tuple[int, ListRow]]:
        """Every list in ``list_id`` order, with its position in the data set's lists."""
        for position in np.argsort(self.table.list_ids.astype(str), kind="stable"):
            yield int(position), self.list_row(grants, int(position))

    def cached_grants(self, key: str) -> SnapshotGrants | None:
        """The grants under a model version if already computed; never computes."""
        with self._lock:
            found = self._grants.get(key)
            if found is not None:
                self._grants.move_to_end(key)
            return found
