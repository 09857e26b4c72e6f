"""Benchmark: the national reform waterfall over HTTP (target: under 1 s per answer).

Run by hand::

    .venv/bin/python bench/bench_reform_http.py [--persons N] [--repeat 20]

Builds once, cached under ``$TMPDIR/ptb-bench-reform`` (apart from the other benchmarks' cache:
its data set carries the lists' practice facts and its model the reform's step calibrations):
the national data set (``synthesise(None)``, about 5.5 million persons on 5,400 lists) and a
local MLflow store with ``model_2026`` trained by ``training.pipeline`` (the six step
calibrations shipped with it). Prints the cold cost of pricing the chain in process (what the
service's warm-up pays once per version, snapshot and date), then starts the service under
uvicorn on 127.0.0.1 with the snapshot, waits until it is ready and times
``GET /v1/whatif/reform`` with an httpx client, from sending the request to the answer parsed:
the first request (which waits for the warm-up if it has not finished), then p50 / p99 / max
with every list's row and without.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))
from bench_http import free_port, registry, service, service_env, uvicorn_command  # noqa: E402
from bench_scoring import national_dataset  # noqa: E402
from bench_whatif_http import timed  # noqa: E402

from features import PersonTable, load_dataset, reform_waterfall  # noqa: E402


def timed_get(client: httpx.Client, params: dict) -> tuple[float, dict, int]:
    return timed(lambda: client.get("/v1/whatif/reform", params=params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per variant")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "ptb-bench-reform"
    )
    args = parser.parse_args()

    data = national_dataset(args.persons, args.seed, args.cache)
    uri, _ = registry(data, data.parent / "registry", models=("model_2026",))
    from serving.model_store import ModelStore

    model = ModelStore(uri, cache_dir=data.parent / "model-cache").get("champion")
    dataset = load_dataset(data)
    started = time.perf_counter()
    table = PersonTable.from_dataset(dataset)
    tables = reform_waterfall(model.bundle.steps, dataset, date.today(), table)
    cold = time.perf_counter() - started
    print(
        f"{os.cpu_count()} CPUs; {len(dataset.persons):,} persons on {len(dataset.lists):,} "
        f"lists; pricing the six steps in process (cold, once per version, snapshot and date): "
        f"{cold:.2f} s"
    )
    print(tables["steps"].round(0).to_string(index=False))
    del dataset, table, tables

    work = Path(tempfile.mkdtemp(prefix="ptb-bench-reform-"))
    env = service_env(PTB_TRACKING_URI=uri, PTB_DATA_DIR=str(data), PYTHONPATH=str(ROOT))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = uvicorn_command("serving.worker:create_app_from_env", port, "--log-level", "warning")
    started = time.perf_counter()
    with (
        service(command, env, f"{url}/readyz", work / "uvicorn.log"),
        httpx.Client(base_url=url, timeout=300) as client,
    ):
        print(f"service ready in {time.perf_counter() - started:.1f} s")
        seconds, answer, size = timed_get(client, {})
        print(
            f"first GET /v1/whatif/reform (waits for the warm-up if not done): {seconds:.2f} s, "
            f"{size:,} bytes"
        )
        header = f"{'GET /v1/whatif/reform':<40} {'p50':>9} {'p99':>9} {'max':>9}  {'bytes':>10}"
        print(f"\n{header}\n{'-' * len(header)}")
        for label, params in (
            ("every list's row (default)", {}),
            ("?lists=false", {"lists": "false"}),
        ):
            times = []
            for _ in range(args.repeat):
                seconds, answer, size = timed_get(client, params)
                times.append(seconds)
            ms = 1000 * np.asarray(times)
            print(
                f"{label:<40} {np.percentile(ms, 50):7.1f}ms {np.percentile(ms, 99):7.1f}ms "
                f"{ms.max():7.1f}ms  {size:>10,}"
            )


if __name__ == "__main__":
    main()
