"""The ``ptb`` command: the one place that sees features, training and serving together."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from features.contract import load_dataset, write_dataset
from features.errors import ContractError, PtbError
from features.settings import Settings

app = typer.Typer(
    help="Calibrate and serve the patient-adjusted capitation grant (PTB) for GPs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

DataOption = Annotated[Path, typer.Option("--data", help="data set directory (data contract v1)")]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="model alias or version (default: champion)")
]


def reports_errors(command: Callable) -> Callable:
    """Print the product's errors plainly and exit 1, instead of a traceback."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PtbError as exc:
            errors.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(1) from exc

    return run


def _settings() -> Settings:
    return Settings()


@app.command()
@reports_errors
def synth(
    out: Annotated[Path, typer.Option("--out", help="directory to write the data set to")],
    persons: Annotated[
        int | None, typer.Option("--persons", min=1, help="listed persons (default: the country)")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed; same seed, same data")] = 2026,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Write a synthetic national data set in the data contract's layout."""
    from features.synth import synthesise

    started = time.perf_counter()
    dataset = synthesise(persons, seed, progress=True)
    write_dataset(dataset, out, fmt=fmt)
    counts = ", ".join(f"{n:,} {table}" for table, n in dataset.row_counts.items())
    console.print(f"wrote {counts} to {out} in {time.perf_counter() - started:.1f} s")


@app.command()
def validate(
    data: DataOption,
    training: Annotated[
        bool, typer.Option("--training/--snapshot", help="also check cost and months_listed")
    ] = True,
) -> None:
    """Check a data set against the data contract; exit 1 with a report if it breaks it."""
    try:
        dataset = load_dataset(data, training=training)
    except ContractError as exc:
        table = Table("table.column", "rule", "rows", "example rows", title=f"{data} is refused")
        for v in exc.violations:
            where = f"{v.table}.{v.column}" if v.column else v.table
            table.add_row(where, v.rule, f"{v.n_rows:,}", ", ".join(map(str, v.example_rows)))
        errors.print(table)
        errors.print(f"[bold red]error:[/] {len(exc.violations)} contract rules broken")
        raise typer.Exit(1) from exc
    counts = ", ".join(f"{n:,} {table}" for table, n in dataset.row_counts.items())
    console.print(f"[green]valid[/]: {counts}")


@app.command()
@reports_errors
def train(
    data: DataOption,
    folds: Annotated[int, typer.Option(min=2, help="cross-validation folds")] = 5,
    seed: Annotated[int, typer.Option(help="seed of the folds and the challenger sample")] = 0,
    challengers: Annotated[
        bool, typer.Option("--challengers/--no-challengers", help="also fit the GLM and GBM")
    ] = True,
) -> None:
    """Validate a data set, calibrate the weights, log to MLflow and register the model."""
    from training.pipeline import TrainingOptions, train_and_register

    settings = _settings()
    started = time.perf_counter()
    dataset = load_dataset(data, training=True)
    console.log(f"data set valid: {dataset.row_counts['persons']:,} persons")
    outcome = train_and_register(
        dataset,
        tracking_uri=settings.tracking_uri,
        artifact_root=settings.artifact_root,
        experiment=settings.experiment,
        options=TrainingOptions(folds=folds, seed=seed, challengers=challengers),
        on_step=console.log,
    )
    table = Table("model", "run id", "cv R²", "cv CPM", "list R²", "PR min", "PR max")
    for name, run_id in outcome.run_ids.items():
        m = outcome.metrics.get(name, {})
        table.add_row(
            name,
            run_id,
            *(
                f"{m.get(k, float('nan')):.3f}"
                for k in ("r2", "cpm", "list_r2", "pr_min", "pr_max")
            ),
        )
    console.print(table)
    console.print(f"run id: {outcome.parent_run_id}")
    for alias, version in outcome.versions.items():
        console.print(f"registered model ptb version {version} (alias {alias})")
    console.print(f"took {time.perf_counter() - started:.1f} s")


@app.command()
@reports_errors
def promote(
    version: Annotated[str, typer.Argument(help="model version (or alias) to make champion")],
    min_ratio: Annotated[float, typer.Option(help="lowest predictive ratio allowed")] = 0.90,
    max_ratio: Annotated[float, typer.Option(help="highest predictive ratio allowed")] = 1.10,
    min_persons: Annotated[int, typer.Option(help="groups smaller than this are not gated")] = 1000,
    gate_deciles: Annotated[
        bool, typer.Option(help="also gate the deciles of predicted cost")
    ] = False,
) -> None:
    """Move the champion alias to a version whose out-of-sample validation passes the gate."""
    from training.registry import PromotionGate
    from training.registry import promote as promote_version

    settings = _settings()
    gate = PromotionGate(
        min_ratio=min_ratio,
        max_ratio=max_ratio,
        min_persons=min_persons,
        ungated_groups=() if gate_deciles else ("predicted_decile",),
    )
    promoted = promote_version(settings.tracking_uri, version, gate)
    console.print(f"champion is now ptb version {promoted}")
