"""``ptb build``: registry extracts -> a data set in the data contract's layout, for year T.

Reads the extracts with an engine (DuckDB embedded by default, Spark for a cluster), checks them
against the extracts contract, runs the build rules (``features/extracts/sql``), checks the
reconciliation to the øre and the result against the data contract, and only then writes the
data set, its reconciliation, the ICPC-2 chapters of T - 1 and the lineage. A build that fails
writes nothing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import COLUMNS as DATASET_COLUMNS
from features.contract import Dataset, validate_dataset, write_dataset
from features.errors import BuildError, ContractError, ExtractsError, Violation
from features.extracts import reconcile
from features.extracts.checks import check_extracts
from features.extracts.contract import (
    EXTRACT_TABLES,
    EXTRACTS_VERSION,
    REFERENCE_TABLES,
)
from features.extracts.engines.base import Engine, open_engine
from features.extracts.lineage import Lineage, digest_files
from features.extracts.rules import (
    BuildParameters,
    render,
    rules_digest,
    steps,
)

ICPC2_FILE = "icpc2_chapters.parquet"
# One row per person and chapter, the same types from every engine.
ICPC2_SCHEMA = pa.schema(
    [("person_id", pa.string()), ("chapter", pa.string()), ("claims", pa.int64())]
)

# Columns of the extracts' lists table -> the data set's lists table. The build writes those the
# data contract (features.contract.COLUMNS["lists"]) declares, so practice form, list cap and
# agreement start flow into the data set as soon as the contract takes them under these names;
# rename here if the contract names them otherwise.
LIST_COLUMNS_TO_DATASET = {
    "list_id": "list_id",
    "practice_kommune": "practice_kommune",
    "practice_form": "practice_form",
    "list_cap": "list_cap",
    "agreement_start": "agreement_start",
}


@dataclass(frozen=True)
class ExtractFiles:
    """Where each table of an extracts directory is: one file or a folder of parts."""

    root: Path
    paths: dict[str, tuple[Path, ...]]
    formats: dict[str, str]

    @property
    def all_files(self) -> list[Path]:
        return [p for paths in self.paths.values() for p in paths]


@dataclass(frozen=True)
class BuildOutputs:
    """What a build produced, before it is written."""

    dataset: Dataset
    reconciliation: pd.DataFrame
    icpc2_chapters: pa.Table  # Arrow: 22 M rows for the country go to a file, not to pandas
    lineage: Lineage


def locate_extracts(directory: str | Path) -> ExtractFiles:
    """``NAME.parquet``, ``NAME.csv`` or a folder ``NAME/`` of such parts, for every table."""
    root = Path(directory)
    if not root.is_dir():
        raise ExtractsError([Violation(str(root), "", "is not a directory", 0)])
    paths: dict[str, tuple[Path, ...]] = {}
    formats: dict[str, str] = {}
    missing = []
    for table in (*EXTRACT_TABLES, *REFERENCE_TABLES):
        for fmt in ("parquet", "csv"):
            single = root / f"{table}.{fmt}"
            parts = sorted((root / table).glob(f"*.{fmt}")) if (root / table).is_dir() else []
            if single.is_file():
                paths[table], formats[table] = (single,), fmt
                break
            if parts:
                paths[table], formats[table] = tuple(parts), fmt
                break
        else:
            missing.append(
                Violation(table, "", f"no {table}.parquet, {table}.csv or {table}/ in {root}", 0)
            )
    if missing:
        raise ExtractsError(missing)
    return ExtractFiles(root, paths, formats)


def _read_reference(files: ExtractFiles) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference release, checked by the data contract's own rules for those tables."""
    frames = {}
    for table in REFERENCE_TABLES:
        parts = []
        for path in files.paths[table]:
            if files.formats[table] == "parquet":
                parts.append(pd.read_parquet(path))
            else:
                parts.append(pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]))
        frames[table] = pd.concat(parts, ignore_index=True)
    empty = {
        table: pd.DataFrame({rule.name: pd.Series([], dtype=object) for rule in rules})
        for table, rules in DATASET_COLUMNS.items()
        if table not in REFERENCE_TABLES
    }
    try:
        checked = validate_dataset(Dataset(**empty, **frames))
    except ContractError as exc:
        raise ExtractsError(exc.violations) from exc
    return checked.kommuner, checked.grunnkretser


def _dataset_lists(lists: pd.DataFrame) -> pd.DataFrame:
    accepted = {rule.name for rule in DATASET_COLUMNS["lists"]}
    mapping = {s: d for s, d in LIST_COLUMNS_TO_DATASET.items() if d in accepted}
    return lists.loc[:, list(mapping)].rename(columns=mapping)


def run_build(
    engine: Engine, files: ExtractFiles, parameters: BuildParameters
) -> tuple[Dataset, pd.DataFrame, pa.Table]:
    """Check the extracts and run every rule on ``engine``; the outputs, checked, in memory."""
    kommuner, grunnkretser = _read_reference(files)
    engine.register_frame("kommuner", kommuner[["kommune"]].astype(str))
    engine.register_frame("grunnkretser", grunnkretser[["grunnkrets"]].astype(str))
    for table in EXTRACT_TABLES:
        engine.register_files(f"raw_{table}", files.paths[table], files.formats[table])
    check_extracts(engine)
    for step in steps():
        sql = render(step, parameters)
        (engine.table if step.keep else engine.view)(step.name, sql)
    claims_in = engine.fetch("SELECT * FROM claims_in").iloc[0]
    lines_in = int(claims_in["lines"])
    nok_in = Decimal(str(claims_in["nok"])).quantize(Decimal("0.01"))
    reconciliation = reconcile.tidy(engine.fetch("SELECT * FROM reconciliation"))
    reconcile.check_claims_balance(reconciliation, lines_in, nok_in)
    persons = engine.fetch("SELECT * FROM persons ORDER BY person_id")
    lists = engine.fetch("SELECT * FROM lists ORDER BY list_id")
    chapters = engine.fetch_arrow("SELECT * FROM icpc2_chapters ORDER BY person_id, chapter").cast(
        ICPC2_SCHEMA
    )
    dataset = Dataset(
        persons=persons,
        lists=_dataset_lists(lists),
        kommuner=kommuner,
        grunnkretser=grunnkretser,
    )
    try:
        dataset = validate_dataset(dataset, training=True)
    except ContractError as exc:
        raise BuildError(f"the built data set breaks the data contract: {exc}") from exc
    return dataset, reconcile.with_totals(reconciliation, lines_in, nok_in), chapters


def build_dataset(
    extracts: str | Path,
    year: int,
    *,
    engine: str = "duckdb",
    master: str | None = None,
    reference_date: dt.date | None = None,
    memory_limit: str | None = None,
) -> BuildOutputs:
    """Build the data set of outcome year ``year`` from an extracts directory, in memory."""
    parameters = BuildParameters.for_year(year, reference_date)
    files = locate_extracts(extracts)
    with ThreadPoolExecutor(max_workers=1) as hashing:
        # The extracts are hashed while the engine works: hashlib releases the GIL.
        digests = hashing.submit(digest_files, files.root, files.all_files)
        running = open_engine(engine, master=master, memory_limit=memory_limit)
        try:
            dataset, reconciliation, chapters = run_build(running, files, parameters)
        finally:
            running.close()
        lineage = Lineage.of(
            files.root,
            digests.result(),
            year=parameters.year,
            reference_date=parameters.reference_date,
            engine=engine,
            rules_digest=rules_digest(),
            extracts_version=EXTRACTS_VERSION,
        )
    return BuildOutputs(dataset, reconciliation, chapters, lineage)


def write_build(outputs: BuildOutputs, out: str | Path) -> Path:
    """Write everything into a fresh folder, then move it into place: never half a data set."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        write_dataset(outputs.dataset, staging)
        outputs.reconciliation.to_csv(staging / reconcile.RECONCILIATION_FILE, index=False)
        pq.write_table(outputs.icpc2_chapters, staging / ICPC2_FILE)
        outputs.lineage.write(staging)
        if out.exists():
            old = out.with_name(f".{out.name}.replaced")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
