"""The generator's steps, and an optional rich progress bar that ticks once per step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

STEPS = ("kommuner", "grunnkretser", "persons", "lists", "costs")


class Steps:
    """An optional rich progress bar with one tick per generation step."""

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._progress: Any = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Steps]:
        if not self._enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("synthesising {task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            self._progress = progress
            self._task = progress.add_task(STEPS[0], total=len(STEPS))
            yield self

    def done(self, step: str) -> None:
        if self._progress is not None:
            following = STEPS.index(step) + 1
            label = STEPS[following] if following < len(STEPS) else "done"
            self._progress.update(self._task, advance=1, description=label)
