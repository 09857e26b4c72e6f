"""Benchmark: the API under uvicorn on 127.0.0.1, driven by wrk at a fixed request rate.

Run by hand (needs ``wrk``: ``apt-get install -y wrk``)::

    .venv/bin/python bench/bench_http.py [--rate 500] [--seconds 30] [--list-rates 10,50]

Builds (once, cached under ``$TMPDIR/ptb-bench``) the national data set, trains and registers
``model_2026`` with ``training.pipeline`` in a local MLflow store, starts
``uvicorn serving.worker:create_app_from_env --factory`` on a free port with the national snapshot,
and drives it with wrk: one thread, requests arriving at random (a Poisson process) at
``--rate`` per second over ``--connections`` open connections, as independent payment systems
would send them. (Connections that each pause a fixed time between requests fall into step and
arrive in bursts, which measures the bursts rather than the service.) Scenarios:

- ``POST /v1/grants/person``: one person per request, bodies drawn from the data set
  (target p99 < 5 ms at 500 requests/s);
- ``POST /v1/grants/list``: 2,000 persons per request (target p99 < 20 ms);
- ``GET /v1/grants/lists/{list_id}``: a list of the snapshot;
- the same person and list requests against ``mlflow models serve`` of the same version
  (the pyfunc logged by training under the run's ``model`` artifact), for comparison.

wrk measures latency per request from send to last byte; the figures are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import national_data  # noqa: E402

from features import load_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
LIST_PERSONS = 2000
BODIES = 2000
LIST_BODIES = 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def registry(
    data: Path, root: Path, models: tuple[str, ...] = ("model_2026",)
) -> tuple[str, dict[str, str]]:
    """A local MLflow store with ``models`` trained on the data (built once): its URI and the
    registered version per alias (``challenger`` for model_2026, ``incumbent`` for model 0)."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    marker = root / "versions.json"
    if not marker.exists():
        from training import GateBounds, TrainingOptions, train_and_register  # the bench trains

        started = time.perf_counter()
        dataset = load_dataset(data, training=True)
        outcome = train_and_register(
            dataset,
            tracking_uri=uri,
            artifact_root=str(root / "artifacts"),
            options=TrainingOptions(
                folds=2,
                challengers=False,
                models=models,
                gate=GateBounds(min_level_persons=0),
                reason="benchmark on synthetic data",
            ),
            snapshot=dataset,  # the lists the bench serves: priced before champion is crowned
        )
        marker.write_text(json.dumps(outcome.versions))
        print(f"trained and registered {outcome.versions} in {time.perf_counter() - started:.0f} s")
    return uri, json.loads(marker.read_text())


def request_files(data: Path, out: Path, seed: int = 1) -> dict[str, Path]:
    """Person bodies, 2,000-person list bodies and list paths, one per line, for wrk."""
    dataset = load_dataset(data)
    persons, lists = dataset.persons, dataset.lists
    practice = lists.set_index("list_id")["practice_kommune"]
    rng = np.random.default_rng(seed)
    rows = persons.iloc[rng.choice(len(persons), BODIES, replace=False)]
    fields = ["age", "sex", "grunnkrets", "copayment_prev_year", "refugee_first_year"]
    records = [
        {
            "age": int(r.age),
            "sex": str(r.sex),
            "grunnkrets": str(r.grunnkrets),
            "copayment_prev_year": float(r.copayment_prev_year),
            "refugee_first_year": bool(r.refugee_first_year),
            "practice_kommune": str(practice[r.list_id]),
        }
        for r in rows.itertuples()
    ]
    files = {name: out / f"{name}.txt" for name in ("person", "list", "paths", "mlflow_person")}
    files["person"].write_text("\n".join(json.dumps(r) for r in records) + "\n")
    columns = [*fields, "practice_kommune"]
    files["mlflow_person"].write_text(
        "\n".join(
            json.dumps({"dataframe_split": {"columns": columns, "data": [list(r.values())]}})
            for r in records
        )
        + "\n"
    )
    list_lines, mlflow_lines = [], []
    for list_id in rng.choice(lists["list_id"].to_numpy(), LIST_BODIES, replace=False):
        members = persons[persons["list_id"] == list_id]
        members = members.iloc[np.resize(np.arange(len(members)), LIST_PERSONS)]
        kommune = str(practice[list_id])
        body = [
            {
                "age": int(p.age),
                "sex": str(p.sex),
                "grunnkrets": str(p.grunnkrets),
                "copayment_prev_year": float(p.copayment_prev_year),
                "refugee_first_year": bool(p.refugee_first_year),
            }
            for p in members.itertuples()
        ]
        list_lines.append(json.dumps({"practice_kommune": kommune, "persons": body}))
        data_rows = [[*p.values(), kommune] for p in body]
        mlflow_lines.append(
            json.dumps({"dataframe_split": {"columns": columns, "data": data_rows}})
        )
    files["list"].write_text("\n".join(list_lines) + "\n")
    files["mlflow_list"] = out / "mlflow_list.txt"
    files["mlflow_list"].write_text("\n".join(mlflow_lines) + "\n")
    sample = rng.choice(lists["list_id"].to_numpy(), 500, replace=False)
    files["paths"].write_text("\n".join(f"/v1/grants/lists/{i}" for i in sample) + "\n")
    return files


def service_env(**settings: str) -> dict[str, str]:
    """This process's environment without MLflow or ptb settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PTB_"))}
    return {**env, **settings}


def instance_settings(work: Path, workers: int) -> dict[str, str]:
    """What ``ptb serve --workers N`` sets for its workers: one instance directory, so they serve
    one model and ``/readyz`` waits for all of them."""
    if workers < 2:
        return {}
    return {"PTB_INSTANCE_DIR": str(work / "instance"), "PTB_INSTANCE_WORKERS": str(workers)}


def uvicorn_command(factory: str, port: int, *options: str) -> list[str]:
    """``uvicorn FACTORY --factory`` on 127.0.0.1, logging only what the service logs itself."""
    command = [sys.executable, "-m", "uvicorn", factory, "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", *options]
    return command


@contextmanager
def service(command: list[str], env: dict, ready_url: str, log: Path, timeout: float = 600):
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[2]} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Load:
    """One scenario: what wrk sends where, how fast and over how many connections."""

    label: str
    url: str
    method: str
    lines: Path
    rate: float
    connections: int


def wrk(load: Load, seconds: int, script: Path) -> dict:
    """Drive ``load.url`` with ``load.rate`` requests/s arriving at random (Poisson).

    One wrk thread: the machine has 2 cores, and the service needs one of them.
    """
    command = ["wrk", "-t", "1", "-c", str(load.connections), "-d", f"{seconds}s"]
    command += ["--timeout", "5s", "-s", str(script), load.url, "--"]
    command += [load.method, str(load.rate), str(load.lines)]
    # From bench/, where the script finds the poisson_arrivals module.
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=BENCH).stdout
    results = [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
    merged = results[0]  # wrk calls done() once, with the summary of all threads
    merged["rate"] = merged["requests"] / merged["seconds"]
    return merged


def measure(load: Load, seconds: int, script: Path, warm_up: int) -> None:
    """A warm-up run (every worker process sees requests; not reported), then the figures."""
    if warm_up > 0:
        wrk(load, warm_up, script)
    result = wrk(load, seconds, script)
    print(
        f"{load.label:<46} {result['rate']:7.0f} req/s  p50 {result['p50_us'] / 1e3:6.2f} ms  "
        f"p90 {result['p90_us'] / 1e3:6.2f} ms  p99 {result['p99_us'] / 1e3:6.2f} ms  "
        f"p99.9 {result['p999_us'] / 1e3:6.2f} ms  max {result['max_us'] / 1e3:6.1f} ms  "
        f"non-2xx {result['non2xx']}  errors {result['socket_errors']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--rate", type=float, default=500, help="person requests per second")
    parser.add_argument(
        "--list-rates",
        type=lambda text: [float(rate) for rate in text.split(",") if rate],
        default=[10.0, 50.0],
        help="2,000-person list requests per second, one run per rate (comma-separated; "
        "empty: none)",
    )
    parser.add_argument(
        "--person-runs", type=int, default=1, help="person runs in a row, to see the spread"
    )
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--warm-up", type=int, default=5, help="seconds before each run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-snapshot", action="store_true", help="serve without --data")
    parser.add_argument("--skip-mlflow", action="store_true", help="skip mlflow models serve")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ptb-bench")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")

    data, _ = national_data(args.persons, 2026, args.cache)
    uri, versions = registry(data, data.parent / "registry")
    version = versions["challenger"]
    work = Path(tempfile.mkdtemp(prefix="ptb-bench-http-"))
    files = request_files(data, work)
    script = BENCH / "bench_http.lua"
    env = service_env(
        PTB_TRACKING_URI=uri,
        PTB_MODEL=version,
        PTB_MODEL_CACHE_DIR=str(work / "cache"),
        **instance_settings(work, args.workers),
    )
    if not args.no_snapshot:
        env["PTB_DATA_DIR"] = str(data)
    list_connections = max(2, args.connections // 2)

    def run(loads: list[Load]) -> None:
        for load in loads:
            measure(load, args.seconds, script, args.warm_up)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = uvicorn_command(
        "serving.worker:create_app_from_env",
        port,
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
    )
    print(f"model version {version}; {args.workers} uvicorn worker(s); {os.cpu_count()} CPUs")
    started = time.perf_counter()
    with service(command, env, f"{url}/readyz", work / "uvicorn.log"):
        print(f"ptb service ready in {time.perf_counter() - started:.1f} s")
        loads = [
            Load(
                "ptb POST /v1/grants/person",
                f"{url}/v1/grants/person",
                "POST",
                files["person"],
                args.rate,
                args.connections,
            )
        ] * args.person_runs
        loads += [
            Load(
                f"ptb POST /v1/grants/list ({LIST_PERSONS} persons)",
                f"{url}/v1/grants/list",
                "POST",
                files["list"],
                rate,
                list_connections,
            )
            for rate in args.list_rates
        ]
        if not args.no_snapshot:
            loads.append(
                Load(
                    "ptb GET /v1/grants/lists/{list_id}",
                    url,
                    "GET",
                    files["paths"],
                    args.rate,
                    args.connections,
                )
            )
        run(loads)
    if args.skip_mlflow:
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["MLFLOW_TRACKING_URI"] = uri
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # uvicorn
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/ptb/{version}"]
    command += ["-h", "127.0.0.1", "-p", str(port), "--env-manager", "local"]
    started = time.perf_counter()
    with service(command, env, f"{url}/ping", work / "mlflow.log"):
        print(f"mlflow models serve ready in {time.perf_counter() - started:.1f} s")
        invocations = f"{url}/invocations"
        loads = [
            Load(
                "mlflow POST /invocations (1 person)",
                invocations,
                "POST",
                files["mlflow_person"],
                args.rate,
                args.connections,
            )
        ]
        loads += [
            Load(
                f"mlflow POST /invocations ({LIST_PERSONS} persons)",
                invocations,
                "POST",
                files["mlflow_list"],
                rate,
                list_connections,
            )
            for rate in args.list_rates
        ]
        run(loads)


if __name__ == "__main__":
    main()
