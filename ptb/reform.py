"""``ptb whatif --reform``: the 2026 reform step by step as a waterfall, written as CSV and PNG.

Each step is priced with the weights its own calibration gave (the step bundles shipped with the
``model_2026`` version), on the snapshot's own release at the period's rate, with the
list-level lines of the basistilskudd.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from features import NoReformStepsError, reform_waterfall
from serving.loaded_model import LoadedModel
from serving.snapshot import Snapshot
from serving.whatif.waterfall_report import STEP_LABELS, write_waterfall


def write_reform(
    loaded: LoadedModel, snapshot: Snapshot, out: Path, scheme_date: date, console: Console
) -> list[Path]:
    """Price the chain on ``snapshot``, print the national steps and write the files."""
    steps = loaded.bundle.steps
    if not steps:
        raise NoReformStepsError(loaded.version, loaded.name)
    dataset = snapshot.dataset
    tables = reform_waterfall(steps, dataset, scheme_date, snapshot.table, snapshot.release)
    persons, lists = (
        f"{n:,}".replace(",", " ") for n in (len(dataset.persons), len(dataset.lists))
    )
    title = (
        f"The 2026 reform step by step: ptb version {loaded.version}, {persons} persons on "
        f"{lists} lists, reference release {snapshot.release.name}, "
        f"scheme date {scheme_date.isoformat()}"
    )
    written = write_waterfall(tables, out, title)
    table = Table(
        "step", "net NOK", "gained NOK", "lost NOK", "lists up", "lists down", title=title
    )
    for row in tables["steps"].itertuples():
        table.add_row(
            STEP_LABELS.get(str(row.step), str(row.step)),
            f"{row.moved_nok:+,.0f}",
            f"{row.gains_nok:+,.0f}",
            f"{row.losses_nok:+,.0f}",
            str(row.gaining_lists),
            str(row.losing_lists),
        )
    console.print(table)
    return written
