"""``ptb compare A B``: what would change if version B replaced version A."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from features import Settings
from ptb.errors import registry_command
from ptb.lifecycle import SnapshotOption, priced_snapshot_of

console = Console(soft_wrap=True)


def compare(
    a: Annotated[str, typer.Argument(help="the version (or alias) in place, e.g. champion")],
    b: Annotated[str, typer.Argument(help="the version (or alias) that would replace it")],
    snapshot: SnapshotOption = None,
    out: Annotated[Path, typer.Option("--out", help="the HTML report with the charts")] = Path(
        "compare.html"
    ),
) -> None:
    """Compare two versions: fit, weights (flagging changes beyond noise), predictive ratios,
    the redistribution per list, kommune and centrality class, and the data drift.

    The redistribution prices both versions as payment would: on the snapshot (--snapshot, else
    PTB_DATA_DIR) with its release and the period's rate; without one it is not computed.
    """
    from training.compare import compare as compare_versions
    from training.compare import facts_of_version
    from training.compare_report import summary_lines, write_html
    from training.registry import Registry

    settings = Settings()
    registry = Registry(settings.tracking_uri)
    # The snapshot as the service reads it, so the rate is the one payment uses.
    priced = priced_snapshot_of(snapshot, settings)
    comparison = compare_versions(
        facts_of_version(registry, a),
        facts_of_version(registry, b),
        priced.dataset if priced is not None else None,
        priced.release if priced is not None else None,
    )
    for line in summary_lines(comparison):
        console.print(line, highlight=False, markup=False)
    written = write_html(comparison, out)
    console.print(f"wrote {written}", highlight=False)


def register_compare(app: typer.Typer) -> None:
    app.command("compare")(registry_command(compare))
