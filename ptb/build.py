"""``ptb build``, ``ptb synth --extracts``: from registry extracts to a data set.

Registered on the ``ptb`` command in ``ptb/cli.py``; the work is in ``features.extracts``.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

console = Console()

EngineOption = Annotated[
    Literal["duckdb", "spark"],
    typer.Option("--engine", help="duckdb (embedded, default) or spark"),
]


def build(
    extracts: Annotated[Path, typer.Option("--extracts", help="directory of registry extracts")],
    year: Annotated[int, typer.Option("--year", help="outcome year T")],
    out: Annotated[Path, typer.Option("--out", help="directory to write the data set to")],
    engine: EngineOption = "duckdb",
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master URL (local[2], spark://host:7077); Spark only"),
    ] = None,
    reference_date: Annotated[
        str | None,
        typer.Option("--reference-date", help="YYYY-MM-DD in T (default: 31 December of T)"),
    ] = None,
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 6GB")
    ] = None,
) -> None:
    """Derive the data set of outcome year T from registry extracts (docs/extracts.md)."""
    from features.extracts.build import build_dataset, write_build

    started = time.perf_counter()
    reference = _date(reference_date) if reference_date else None
    outputs = build_dataset(
        extracts,
        year,
        engine=engine,
        master=master,
        reference_date=reference,
        memory_limit=memory_limit,
    )
    write_build(outputs, out)
    table = Table("source", "outcome", "reason", "lines", "NOK", title="reconciliation")
    for row in outputs.reconciliation.itertuples():
        table.add_row(
            str(row.source), str(row.outcome), str(row.reason), f"{row.lines:,}", f"{row.nok:,}"
        )
    console.print(table)
    counts = ", ".join(f"{n:,} {name}" for name, n in outputs.dataset.row_counts.items())
    console.print(
        f"wrote {counts} to {out} with {engine} in {time.perf_counter() - started:.1f} s; "
        f"fingerprint {outputs.lineage.fingerprint[:16]}"
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def synth_extracts(out: Path, persons: int | None, seed: int, year: int) -> None:
    """Write synthetic registry extracts (``ptb synth --extracts``)."""
    from features.extracts.synth import write_synthetic_extracts

    started = time.perf_counter()
    counts = write_synthetic_extracts(out, n_persons=persons, seed=seed, year=year)
    shown = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    console.print(f"wrote {shown} to {out} in {time.perf_counter() - started:.1f} s")
