"""Values kept per snapshot: built once per key however many requests ask at once, the few
used last kept, and a kept value never handed to another snapshot."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from serving.snapshot_kept import KeptPerSnapshot


class FakeSnapshot:
    """Stands in for a served snapshot: only its identity matters to the cache."""


def test_concurrent_requests_for_one_key_build_it_once():
    kept: KeptPerSnapshot[int] = KeptPerSnapshot(keep=2)
    snapshot, builds = FakeSnapshot(), []
    started = threading.Barrier(8)

    def build() -> int:
        builds.append(1)
        time.sleep(0.2)  # long enough that every caller arrives while it runs
        return 42

    def ask(_: int) -> int:
        started.wait()
        return kept.get(snapshot, ("2026-07-01",), build)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert answers == [42] * 8 and len(builds) == 1


def test_the_keys_used_last_are_kept_and_the_oldest_dropped():
    kept: KeptPerSnapshot[str] = KeptPerSnapshot(keep=2)
    snapshot = FakeSnapshot()
    for day in ("a", "b"):
        kept.get(snapshot, (day,), lambda day=day: day)
    assert kept.cached(snapshot, ("a",)) == "a"  # "a" is now the last used
    kept.get(snapshot, ("c",), lambda: "c")
    assert kept.cached(snapshot, ("b",)) is None
    assert kept.cached(snapshot, ("a",)) == "a" and kept.cached(snapshot, ("c",)) == "c"
    assert len(kept) == 2


def test_a_value_belongs_to_its_snapshot():
    kept: KeptPerSnapshot[str] = KeptPerSnapshot(keep=4)
    old, new = FakeSnapshot(), FakeSnapshot()
    kept.get(old, ("k",), lambda: "priced on the old snapshot")
    assert kept.cached(new, ("k",)) is None
    assert (
        kept.get(new, ("k",), lambda: "priced on the new snapshot") == "priced on the new snapshot"
    )
