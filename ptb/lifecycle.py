"""The yearly cycle's commands: ``ptb train``, ``ptb promote`` and ``ptb history``.

Every alias move they make is recorded on the versions (``training.decisions``) and appended
to the audit log (``PTB_AUDIT_LOG``). Registry calls fail within seconds, naming the tracking
URI and the cause (``training.registry.bounded_registry_calls``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from features import (
    AuditLogError,
    CodeChange,
    Dataset,
    PricedDataset,
    Release,
    Settings,
    load_with_release,
)
from ptb.errors import registry_command

console = Console(soft_wrap=True)
UNLIMITED = 1_000_000  # columns to measure a table's natural width in

ReasonOption = Annotated[
    str | None,
    typer.Option("--reason", help="why bounds looser than the defaults are used; recorded"),
]
SnapshotOption = Annotated[
    Path | None,
    typer.Option(
        "--snapshot",
        help="registry snapshot the version must price (default: PTB_DATA_DIR)",
    ),
]
MinLevelOption = Annotated[
    int, typer.Option(min=0, help="fewest persons behind each paid factor level")
]
MinShareOption = Annotated[
    float, typer.Option(min=0, help="least share of the champion's persons the data must hold")
]
RequireSnapshotOption = Annotated[
    bool,
    typer.Option(
        "--require-snapshot/--no-require-snapshot",
        help="a version becomes champion only once it has priced the registry snapshot "
        "(waiving it loosens the gate and needs --reason)",
    ),
]


def priced_snapshot_of(snapshot: Path | None, settings: Settings) -> PricedDataset | None:
    """The registry snapshot (``--snapshot``, else ``PTB_DATA_DIR``) as the service reads it:
    old codes mapped to its release's new ones, and that release with the period's average
    grant (``release.json``)."""
    folder = snapshot or (Path(settings.data_dir) if settings.data_dir else None)
    return load_with_release(folder) if folder is not None else None


def snapshot_of(snapshot: Path | None, settings: Settings) -> Dataset | None:
    """The registry snapshot the gate prices (``priced_snapshot_of``'s data set)."""
    priced = priced_snapshot_of(snapshot, settings)
    return priced.dataset if priced is not None else None


def audit_moves(moves: Iterable[Any], settings: Settings) -> None:
    """Append each alias move to the audit log; the move itself is already on the versions."""
    from serving.access import AuditLog

    log = AuditLog(settings.audit_log)
    try:
        for move in moves:
            log.append(move.audit_record())
    except AuditLogError as exc:
        raise AuditLogError(
            f"{exc}; the alias move is recorded on the model versions (ptb history) but not "
            "in the audit log"
        ) from exc
    finally:
        log.close()


def report_release(release: Release, code_changes: Iterable[CodeChange]) -> None:
    """The release a data set is, its education fallback and the old codes it mapped."""
    console.print(f"reference release: {release.name} ({release.period})", highlight=False)
    console.print(f"education fallback: {release.reference.fallback}", highlight=False)
    for change in code_changes:
        console.print(
            f"code change: {change.field} {change.old} -> {change.new} (from {change.valid_from})",
            highlight=False,
        )


def train(
    data: Annotated[Path, typer.Option("--data", help="data set directory (data contract v1)")],
    folds: Annotated[int, typer.Option(min=2, help="cross-validation folds")] = 5,
    seed: Annotated[int, typer.Option(help="seed of the folds and the challenger sample")] = 0,
    challengers: Annotated[
        bool, typer.Option("--challengers/--no-challengers", help="also fit the GLM and GBM")
    ] = True,
    register: Annotated[
        bool,
        typer.Option(
            "--register/--no-register", help="register versions and move aliases (default yes)"
        ),
    ] = True,
    snapshot: SnapshotOption = None,
    min_level_persons: MinLevelOption = 500,
    min_data_share: MinShareOption = 0.9,
    require_snapshot: RequireSnapshotOption = True,
    reason: ReasonOption = None,
    engine: Annotated[
        Literal["duckdb", "spark"] | None,
        typer.Option("--engine", help="cross-validate with sums by duckdb or spark from disk"),
    ] = None,
    master: Annotated[
        str | None, typer.Option("--master", help="Spark master URL for --engine spark")
    ] = None,
) -> None:
    """Validate a data set, calibrate the weights, log to MLflow and register the model.

    ``challenger`` and ``incumbent`` move only to versions that pass the gate's data checks.
    """
    from training.gate import GateBounds
    from training.interrupt import Interruption
    from training.pipeline import TrainingOptions, train_and_register

    settings = Settings()
    started = time.perf_counter()
    with Interruption() as guard:
        priced = load_with_release(data, training=True)
        dataset = priced.dataset
        console.log(f"data set valid: {dataset.row_counts['persons']:,} persons")
        report_release(priced.release, priced.code_changes)
        outcome = train_and_register(
            dataset,
            release=priced.release,
            tracking_uri=settings.tracking_uri,
            artifact_root=settings.artifact_root,
            experiment=settings.experiment,
            options=TrainingOptions(
                folds=folds,
                seed=seed,
                challengers=challengers,
                register=register,
                gate=GateBounds(
                    min_level_persons=min_level_persons,
                    min_data_share=min_data_share,
                    require_snapshot=require_snapshot,
                ),
                reason=reason or "",
                engine=engine,
                master=master,
            ),
            on_step=console.log,
            data_path=str(data),
            snapshot=snapshot_of(snapshot, settings),
            interruption=guard,
            command=["ptb", *sys.argv[1:]],
        )
        _print_training(outcome)
        if outcome.moves:
            audit_moves(outcome.moves, settings)
        console.print(f"took {time.perf_counter() - started:.1f} s")


def _print_training(outcome: Any) -> None:
    table = Table(
        "model", "run id", "cv R²", "cv CPM", "list R²", "PR lowest", "PR highest",
        title="cross-validated fit (PR: predictive ratios of the legislated groups and deciles)",
    )  # fmt: skip
    for column in table.columns:
        column.no_wrap = True  # run ids and names are never cut, piped or not
    for name, run_id in outcome.run_ids.items():
        m = outcome.metrics.get(name, {})
        figures = (m.get(k, float("nan")) for k in ("r2", "cpm", "list_r2", "pr_min", "pr_max"))
        table.add_row(name, run_id, *(f"{v:.3f}" for v in figures))
    Console(soft_wrap=True, width=max(console.width, 120)).print(table)
    for name, gate in outcome.gates.items():
        console.print(f"{name}: {gate.summary()}", highlight=False)
        for failure in gate.failures():
            console.print(f"  {failure}", highlight=False, markup=False)
    console.print(f"run id: {outcome.parent_run_id}", highlight=False)
    for alias, version in outcome.versions.items():
        console.print(f"registered model ptb version {version} ({alias} candidate)")
    for move in outcome.moves:
        console.print(f"alias {move.alias} -> version {move.to_version}", highlight=False)
    for alias, why in outcome.held_back.items():
        console.print(f"alias {alias} NOT moved: {why}", highlight=False, markup=False)
    if not outcome.versions:
        console.print("not registered (--no-register): the registry is unchanged")


def promote(
    version: Annotated[str, typer.Argument(help="model version (or alias) to make champion")],
    min_ratio: Annotated[float, typer.Option(help="lowest predictive ratio allowed")] = 0.90,
    max_ratio: Annotated[float, typer.Option(help="highest predictive ratio allowed")] = 1.10,
    min_level_persons: MinLevelOption = 500,
    min_data_share: MinShareOption = 0.9,
    gate_deciles: Annotated[
        bool, typer.Option(help="also gate the deciles of predicted cost")
    ] = False,
    snapshot: SnapshotOption = None,
    require_snapshot: RequireSnapshotOption = True,
    reason: ReasonOption = None,
    unlegislated_reason: Annotated[
        str | None,
        typer.Option(
            help="required to promote a model that implements no legislated rule (a "
            "challenger such as model_2026_fine_bands): why it should pay; recorded on the version"
        ),
    ] = None,
) -> None:
    """Move the champion alias to a version that passes the gate; record the decision.

    A challenger that implements no legislated rule is promoted only with a documented reason.
    """
    from training.gate import LEGISLATED_GROUPS, GateBounds
    from training.promote import promote as promote_version

    settings = Settings()
    bounds = GateBounds(
        min_ratio=min_ratio,
        max_ratio=max_ratio,
        min_level_persons=min_level_persons,
        min_data_share=min_data_share,
        gated_groups=LEGISLATED_GROUPS + (("predicted_decile",) if gate_deciles else ()),
        require_snapshot=require_snapshot,
    )
    promotion = promote_version(
        settings.tracking_uri,
        version,
        bounds=bounds,
        reason=reason,
        snapshot=snapshot_of(snapshot, settings),
        unlegislated_reason=unlegislated_reason,
    )
    for check in promotion.gate.checks:
        console.print(f"  {check.name}: {check.outcome}: {check.figure}", highlight=False)
    audit_moves([promotion.move], settings)
    console.print(
        f"champion is now ptb version {promotion.version} "
        f"(was {promotion.move.from_version or 'none'})"
    )


def history(
    alias: Annotated[str, typer.Option(help="the alias whose lineage to show")] = "champion",
) -> None:
    """The alias's lineage: every move, with who, when, from which version, gate, bounds and
    reason."""
    from training.decisions import champion_lineage
    from training.registry import Registry

    registry = Registry(Settings().tracking_uri)
    moves = champion_lineage(registry, alias)
    if not moves:
        console.print(f"no recorded moves of {alias!r}")
        return
    table = Table(
        "when (UTC)", "version", "from", "by", "gate", "bounds", "reason", title=f"{alias} lineage"
    )
    for move in moves:
        cells = (
            move.at,
            move.to_version,
            move.from_version or "-",
            move.by,
            move.gate,
            bounds_of(move.bounds),
            move.reason,
        )
        table.add_row(*(Text(cell) for cell in cells))  # Text: a "[...]" reason is not markup
    print_whole(table)


def bounds_of(recorded: dict[str, Any]) -> str:
    """The bounds a move was made under: each one looser than the default, or that none was."""
    from training.gate import GateBounds

    if not recorded:
        return "bounds not recorded"  # a move recorded before its bounds were kept with it
    known = {bound.name for bound in fields(GateBounds)}
    values = {name: value for name, value in recorded.items() if name in known}
    if "gated_groups" in values:
        values["gated_groups"] = tuple(values["gated_groups"])
    loosened = GateBounds(**values).loosened()
    return "loosened " + "; ".join(loosened) if loosened else "no bound loosened"


def print_whole(table: Table) -> None:
    """Print a table one line per row, no cell cut, however narrow the terminal or the pipe."""
    for column in table.columns:
        column.no_wrap = True
    natural = Measurement.get(console, console.options.update_width(UNLIMITED), table).maximum
    Console(soft_wrap=True, width=max(console.width, natural)).print(table)


def register_lifecycle(app: typer.Typer) -> None:
    """Add the lifecycle commands to the ``ptb`` application."""
    app.command("train")(registry_command(train))
    app.command("promote")(registry_command(promote))
    app.command("history")(registry_command(history))
