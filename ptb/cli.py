"""The ``ptb`` command: the one place that sees features, training and serving together."""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from features import (
    MIN_LEVEL_PERSONS,
    ContractError,
    Settings,
    write_dataset,
)
from ptb.audit import audit_app
from ptb.build import build as build_command
from ptb.build import synth_extracts
from ptb.compare import register_compare
from ptb.errors import errors, fail, registry_command, reports_errors
from ptb.keys import keys_app
from ptb.lifecycle import register_lifecycle, report_release
from ptb.lifecycle import train as train_command
from ptb.serve_dirs import instance_dir, shared_metrics_dir

app = typer.Typer(
    help="Calibrate and serve the patient-adjusted capitation grant (PTB) for GPs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
register_lifecycle(app)
register_compare(app)


def _print_version(value: bool) -> None:
    if value:
        from training.provenance import source

        console.print(source().label, highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="print ptb's version"
        ),
    ] = False,
) -> None:
    """Calibrate and serve the patient-adjusted capitation grant (PTB) for GPs."""


DataOption = Annotated[Path, typer.Option("--data", help="data set directory (data contract v1)")]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="model alias or version (default: champion)")
]


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
    extracts: Annotated[
        bool, typer.Option("--extracts", help="write registry extracts instead (ptb build)")
    ] = False,
    year: Annotated[int, typer.Option("--year", help="outcome year T of --extracts")] = 2025,
) -> None:
    """Write a synthetic national data set in the data contract's layout (or its extracts)."""
    from features import synthesise

    if extracts:
        return synth_extracts(out, persons, seed, year)

    started = time.perf_counter()
    dataset = synthesise(persons, seed, progress=True)
    write_dataset(dataset, out, fmt=fmt)
    counts = ", ".join(f"{n:,} {table}" for table, n in dataset.row_counts.items())
    console.print(f"wrote {counts} to {out} in {time.perf_counter() - started:.1f} s")


app.command(name="build")(reports_errors(build_command))


@app.command()
@reports_errors
def validate(
    data: DataOption,
    training: Annotated[
        bool, typer.Option("--training/--snapshot", help="also check cost and months_listed")
    ] = True,
) -> None:
    """Check a data set against the data contract; exit 1 with a report if it breaks it."""
    from features import load_with_release

    try:
        priced = load_with_release(data, training=training)
    except ContractError as exc:
        table = Table("table.column", "rule", "rows", "example rows", title=f"{data} is refused")
        for v in exc.violations:
            where = f"{v.table}.{v.column}" if v.column else v.table
            table.add_row(where, v.rule, f"{v.n_rows:,}", ", ".join(map(str, v.example_rows)))
        errors.print(table)
        fail(f"{len(exc.violations)} contract rules broken", exc)
    counts = ", ".join(f"{n:,} {table}" for table, n in priced.dataset.row_counts.items())
    console.print(f"[green]valid[/]: {counts}")
    report_release(priced.release, priced.code_changes)


def _model_store(settings: Settings):
    from serving.model_store import ModelStore

    return ModelStore(
        settings.tracking_uri, settings.registered_model, cache_dir=settings.model_cache_dir
    )


@app.command()
@reports_errors
def serve(
    model: ModelOption = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="registry snapshot for list look-ups and what-if")
    ] = None,
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="worker processes, one per core; each holds the model and the snapshot",
        ),
    ] = 1,
    apis: Annotated[
        Literal["all", "payment", "policy"] | None,
        typer.Option(
            "--apis",
            help="all, payment (grants) or policy (what-if and /policy); default PTB_APIS or all",
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="without --data: the reference release to price with, a shipped release's "
            "name or a release directory (default PTB_REFERENCE or the shipped release)",
        ),
    ] = None,
) -> None:
    """Serve grants per person and per list, model info and what-if over HTTP.

    With --data the snapshot's own kommuner and grunnkretser are the release priced with, and
    the rate makes its persons spend the period's budget; without, --reference names the release
    and the model's own rate applies.
    """
    from serving.observability import configure_logging

    if apis is not None:
        os.environ["PTB_APIS"] = apis  # the settings check it; worker processes read it too
    if reference is not None:
        os.environ["PTB_REFERENCE"] = reference  # worker processes read it too
    settings = _settings()
    # Before the service's imports (MLflow warns on import): every line JSON.
    configure_logging(settings.log_format, settings.log_level)
    import uvicorn

    from features import Release
    from serving.app import create_app_from_settings
    from serving.snapshot import Snapshot

    data = data or (Path(settings.data_dir) if settings.data_dir else None)
    # A broken snapshot (or an unknown release) is refused here, before the port is bound.
    snapshot = Snapshot.load(data) if data is not None else None
    release = snapshot.release if snapshot is not None else Release.named(settings.reference)
    served = model or settings.model or settings.serving_alias
    log = logging.getLogger("ptb.serve")
    log.info(
        "serving ptb %s with reference release %s (%s) on http://%s:%s/docs (%d worker(s))",
        served, release.name, release.period, host, port, workers,
    )  # fmt: skip
    for change in snapshot.code_changes if snapshot is not None else ():
        log.info(
            "code change: %s %s -> %s (from %s)",
            change.field, change.old, change.new, change.valid_from,
        )  # fmt: skip
    if workers == 1:
        # An operator's metrics directory is this instance's alone, with one worker too.
        held = shared_metrics_dir() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else nullcontext()
        with held:
            application = create_app_from_settings(
                settings, snapshot=snapshot, default_model=served, reference=release
            )
            uvicorn.run(application, host=host, port=port, log_config=None, access_log=False)
        return
    # Each worker process builds the service from the environment: the same settings, this
    # model and this snapshot (checked above, then left to the workers to hold).
    del snapshot, release
    os.environ["PTB_MODEL"] = served
    os.environ["PTB_INSTANCE_WORKERS"] = str(workers)
    if data is not None:
        os.environ["PTB_DATA_DIR"] = str(data)
    with shared_metrics_dir(), instance_dir():
        uvicorn.run(
            "serving.worker:create_app_from_env",
            factory=True,
            workers=workers,
            # A worker loads the snapshot and the model before it answers uvicorn's ping; on a
            # busy host that takes longer than uvicorn's 5 s, which would kill it over and over.
            timeout_worker_healthcheck=120,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )


@app.command()
@reports_errors
def grants(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="directory for the two Parquet files")],
    model: ModelOption = None,
) -> None:
    """Every person's and every list's annual grant for a registry snapshot.

    The snapshot's own kommuner and grunnkretser are the release it is priced with, and the
    rate is set so that its persons spend the period's budget.
    """
    from features import load_with_release, period_scorer, write_grants

    settings = _settings()
    priced = load_with_release(data)
    dataset = priced.dataset
    loaded = _model_store(settings).get(model or settings.serving_alias)
    scorer = period_scorer(loaded.bundle, dataset, priced.release)
    person_path, list_path = write_grants(
        loaded.bundle, dataset, out, scorer=scorer, model_version=str(loaded.version)
    )
    console.print(
        f"model ptb version {loaded.version} (trained on {loaded.bundle.reference.release}) "
        f"with reference release {priced.release.name}: wrote {person_path} and {list_path} "
        f"({len(dataset.persons):,} persons, {len(dataset.lists):,} lists; annual NOK; "
        f"rate {scorer.rate_nok:,.4f} NOK per weight, set by the snapshot's persons)",
        highlight=False,
    )
    report_release(priced.release, priced.code_changes)


@app.command()
@reports_errors
def whatif(
    out: Annotated[Path, typer.Option("--out", help="directory for tables and charts")],
    scenario: Annotated[Path | None, typer.Option("--scenario", help="scenario YAML file")] = None,
    reform: Annotated[
        bool,
        typer.Option(
            "--reform", help="the 2026 reform step by step as a waterfall, instead of a scenario"
        ),
    ] = False,
    scheme_date: Annotated[
        datetime | None,
        typer.Option(
            "--scheme-date", formats=["%Y-%m-%d"], help="payment date for --reform (today)"
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", envvar="PTB_DATA_DIR", help="registry snapshot (or PTB_DATA_DIR)"),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="baseline model alias or version (champion)")
    ] = None,
) -> None:
    """Price a scenario against the current scheme, or the reform step by step (--reform).

    The snapshot's own kommuner and grunnkretser are the release it is priced with, at the rate
    that makes its persons spend the period's budget; a scenario may name another release.
    """
    if (scenario is None) == (not reform):
        raise typer.BadParameter("pass either --scenario FILE or --reform")
    if data is None:
        raise typer.BadParameter("no registry snapshot: pass --data DIR or set PTB_DATA_DIR")
    from serving.pricing import Pricing
    from serving.snapshot import Snapshot

    settings = _settings()
    snapshot = Snapshot.load(data)
    if reform:
        from ptb.reform import write_reform

        loaded = _model_store(settings).get(model or settings.serving_alias)
        day = scheme_date.date() if scheme_date else date.today()
        written = write_reform(loaded, snapshot, out, day, console)
        console.print(f"wrote {len(written)} tables and charts to {out}")
        report_release(snapshot.release, snapshot.code_changes)
        return
    assert scenario is not None
    from serving.whatif import WhatIfEngine, load_scenario, write_report

    parsed = load_scenario(scenario)
    dataset = snapshot.dataset
    # The snapshot's own release and the period's rate; a scenario may name another release.
    pricing = Pricing(snapshot.release, snapshot)
    store = _model_store(settings)
    baseline = store.get(model or settings.serving_alias)
    scenario_model = store.get(parsed.model_version) if parsed.model_version else baseline
    scenario_bundle = pricing.bundle(scenario_model, parsed.reference_release)
    phase_in_from = (
        pricing.bundle(store.get(parsed.phase_in.from_version)) if parsed.phase_in else None
    )
    engine = WhatIfEngine(
        dataset.persons, dataset.lists, dataset.kommuner, pricing.bundle(baseline)
    )
    result = engine.run(parsed, scenario_bundle=scenario_bundle, phase_in_from=phase_in_from)
    report_files = write_report(result, out)
    table = Table(
        "figure", "value", title=f"{scenario.name} against ptb version {baseline.version}"
    )
    for key, value in result.summary().items():
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"wrote {len(report_files)} tables and charts to {out}")


@app.command()
@reports_errors
def demo(
    persons: Annotated[
        int | None, typer.Option("--persons", min=1000, help="listed persons (default: country)")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="where the demo data set goes")] = Path(
        "data/demo"
    ),
    port: Annotated[int, typer.Option(help="port for the API")] = 8000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start the API at the end")
    ] = True,
) -> None:
    """The embedded default end to end: synthetic data, training, registration, serving."""
    synth(out=out, persons=persons, seed=2026, fmt="parquet")
    validate(data=out, training=True)
    # A demo smaller than the country cannot fill every paid level; it says so on the version.
    small = persons is not None
    registry_command(train_command)(
        data=out,
        snapshot=out,  # the lists it serves: the gate prices them before crowning champion
        min_level_persons=0 if small else MIN_LEVEL_PERSONS,
        reason=f"demo on {persons:,} synthetic persons" if small else None,
    )
    if serve_api:
        example = (
            '{"age": 82, "sex": "F", "grunnkrets": "03010101", "copayment_prev_year": 1800, '
            '"refugee_first_year": false, "practice_kommune": "0301"}'
        )
        console.print(
            f"try: curl -s -X POST localhost:{port}/v1/grants/person "
            f"-H 'content-type: application/json' -d '{example}'",
            highlight=False,
            markup=False,
        )
        serve(model=None, data=out, port=port, host="127.0.0.1")
