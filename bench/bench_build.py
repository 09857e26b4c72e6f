"""Benchmark ``ptb build``: registry extracts of the whole country, two years of claims.

Prints, for the national synthetic extracts (``ptb synth --extracts``, 5.55 million persons,
about 37 million claim lines a year, T = 2025 and T - 1 = 2024):

- generating the extracts (once; reused from ``--extracts`` when already there);
- ``ptb build`` with DuckDB: wall time, CPU time and peak memory (targets: under 60 s and 8 GB);
- the same build with Spark ``local[2]``: wall time and its ratio to DuckDB;
- the machine's load average at the end, since wall times on a shared machine depend on it;
- end to end, ``ptb build`` then ``ptb train`` (in-memory and ``--engine duckdb``).

Each ``ptb`` command runs as its own process, measured with ``os.wait4``: peak memory is the
process's maximum resident set (for Spark, the Python driver's, not the JVM's).
Run by hand: ``nice python bench/bench_build.py [--persons N] [--spark] [--train]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKER = ".complete"


def run_ptb(*args: str, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run ``ptb ARGS``; wall seconds, peak resident memory in GB and CPU seconds.

    CPU seconds (user + system, the process and its waited children) tell the work apart from
    the wait on a shared machine: on two idle cores the wall time is at least half of it.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "ptb", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"ptb {' '.join(args)} failed:\n{output[-4000:]}")
    return elapsed, usage.ru_maxrss / 1024 / 1024, usage.ru_utime + usage.ru_stime


def ensure_extracts(directory: Path, persons: int | None, year: int) -> float | None:
    """Generate the extracts unless a finished copy is there; seconds taken, or None."""
    if (directory / MARKER).exists():
        return None
    args = ["synth", "--extracts", "--out", str(directory), "--year", str(year)]
    if persons:
        args += ["--persons", str(persons)]
    elapsed, _, _ = run_ptb(*args)
    (directory / MARKER).write_text("ok\n")
    return elapsed


def size_gb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--extracts", type=Path, default=Path("bench-data/extracts-national"))
    parser.add_argument("--spark", action="store_true", help="also build with Spark local[2]")
    parser.add_argument("--train", action="store_true", help="also ptb train the built data set")
    parser.add_argument("--memory-limit", default="5GB", help="DuckDB's memory limit")
    options = parser.parse_args()

    rows: list[tuple[str, str]] = []
    generated = ensure_extracts(options.extracts, options.persons, options.year)
    rows.append(
        (
            "generate extracts",
            f"{generated:.1f} s" if generated is not None else "reused",
        )
    )
    claims = options.extracts / "claims"
    rows.append(("extracts on disk", f"{size_gb(options.extracts):.2f} GB ({claims})"))
    with tempfile.TemporaryDirectory(prefix="ptb-bench-build-") as tmp:
        out = Path(tmp) / "dataset"
        common = ["build", "--extracts", str(options.extracts), "--year", str(options.year)]
        duck_s, duck_gb, duck_cpu = run_ptb(
            *common, "--out", str(out), "--memory-limit", options.memory_limit
        )
        rows.append(
            ("build, DuckDB", f"{duck_s:.1f} s, peak {duck_gb:.2f} GB, CPU {duck_cpu:.1f} s")
        )
        if options.spark:
            spark_s, spark_gb, spark_cpu = run_ptb(
                *common,
                "--out",
                str(Path(tmp) / "dataset-spark"),
                "--engine",
                "spark",
                "--master",
                "local[2]",
            )
            rows.append(
                (
                    "build, Spark local[2]",
                    f"{spark_s:.1f} s (x{spark_s / duck_s:.1f} DuckDB), "
                    f"driver peak {spark_gb:.2f} GB, CPU {spark_cpu:.1f} s",
                )
            )
        if options.train:
            env = {
                "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns/mlflow.db",
                "PTB_ARTIFACT_ROOT": f"{tmp}/mlruns/artifacts",
            }
            train = ["train", "--data", str(out), "--no-challengers"]
            train_s, train_gb, _ = run_ptb(*train, env=env)
            rows.append(("train (in memory)", f"{train_s:.1f} s, peak {train_gb:.2f} GB"))
            rows.append(("build + train, end to end", f"{duck_s + train_s:.1f} s"))
            engine_s, engine_gb, _ = run_ptb(*train, "--engine", "duckdb", env=env)
            rows.append(("train --engine duckdb", f"{engine_s:.1f} s, peak {engine_gb:.2f} GB"))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows.append(("machine load (1, 5, 15 min)", f"{load} on {os.cpu_count()} cores"))
    width = max(len(name) for name, _ in rows)
    print(f"ptb build benchmark: {options.persons or 'national'} persons, T = {options.year}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
