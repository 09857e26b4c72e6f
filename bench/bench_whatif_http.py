"""Benchmark: a national what-if over HTTP, end to end (target: under 1 s per scenario).

Run by hand::

    .venv/bin/python bench/bench_whatif_http.py [--persons N] [--repeat 20] [--warmup 2]

Builds once, cached under ``$TMPDIR/ptb-bench``: the national data set (``synthesise(None)``,
about 5.5 million persons on 5,400 lists) and a local MLflow store with ``model_2026``
(champion) and ``model0_2023`` (incumbent) trained by ``training.pipeline``. Starts the service
under uvicorn on 127.0.0.1 with the snapshot and the what-if routers, waits until it is ready,
and times ``POST /v1/whatif`` per scenario with an httpx client: from sending the request to the
last byte of the answer, parsed. Prints the first what-if (the engine's set-up, when the
background warm-up has not finished yet), then p50 / p99 / max per scenario after
``--warmup`` requests, each priced anew (``Cache-Control: no-cache``), and the same scenario
asked again without it, answered from the result the service keeps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from bench_http import (  # noqa: E402
    free_port,
    registry,
    service,
    service_env,
    uvicorn_command,
)
from bench_scoring import national_data  # noqa: E402

SCENARIOS: dict[str, tuple[dict, dict]] = {
    "identical to the baseline": ({}, {}),
    "dampened 0.5": ({"dampening": 0.5}, {}),
    "strengthened centrality (NOK 500 / 1,000)": (
        {"centrality_supplement_nok": {"5": 500, "6": 1000}},
        {},
    ),
    "centrality effects doubled, new money": (
        {"centrality_scale": 2.0, "budget_neutral": False},
        {},
    ),
    "education threshold 0.25": ({"education_threshold": 0.25}, {}),
    "refugee rate NOK 3,000": ({"refugee_rate_nok": 3000}, {}),
    "floor 500 and break point 1,500 at 0.6": (
        {"floor_persons": 500, "break_point_persons": 1500, "break_point_rate_share": 0.6},
        {},
    ),
    "model0_2023 against the 2026 champion": ({"model_version": "incumbent"}, {}),
    "phase-in 50 % from model0_2023": (
        {"phase_in": {"from_version": "incumbent", "share": 0.5}},
        {},
    ),
    "dampened 0.5, every list (?lists=true)": (
        {"dampening": 0.5},
        {"lists": "true", "limit": 10_000},
    ),
}
# What the /policy page asks for on every lever move.
PAGE_PARAMS = {"kommuner": 15, "kommune_order": "change_nok", "top": 8, "bins": 121}


FRESH = {"Cache-Control": "no-cache"}  # price anew: the service keeps results of a scenario


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, share: float = 0.1, window: float = 2.0, limit: float = 180) -> float:
    """Seconds waited until the service used under ``share`` of a core over ``window``: the
    start-up warm-ups (the reform waterfall, the what-if engine) share its interpreter."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < share * window:
            break
    return time.perf_counter() - started


def timed(send: Callable[[], httpx.Response]) -> tuple[float, dict, int]:
    """Seconds from sending to the parsed answer, the answer and its bytes; non-200 raises."""
    started = time.perf_counter()
    response = send()
    answer = response.json()
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {answer}")
    return seconds, answer, len(response.content)


def timed_post(
    client: httpx.Client, body: dict, params: dict, fresh: bool = True
) -> tuple[float, dict, int]:
    return timed(
        lambda: client.post(
            "/v1/whatif",
            json=body,
            params={**PAGE_PARAMS, **params},
            headers=FRESH if fresh else None,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per scenario")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ptb-bench")
    args = parser.parse_args()

    data, _ = national_data(args.persons, args.seed, args.cache)
    uri, _ = registry(data, data.parent / "registry-whatif", models=("model_2026", "model0_2023"))
    work = Path(tempfile.mkdtemp(prefix="ptb-bench-whatif-"))
    env = service_env(PTB_TRACKING_URI=uri, PTB_DATA_DIR=str(data), PYTHONPATH=str(ROOT))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The documented factory: every API, what-if and /policy included (PTB_APIS=all).
    command = uvicorn_command("serving.worker:create_app_from_env", port, "--log-level", "warning")
    print(f"{os.cpu_count()} CPUs; data {data}")
    started = time.perf_counter()
    with (
        service(command, env, f"{url}/readyz", work / "uvicorn.log") as process,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        ready = time.perf_counter() - started
        print(f"service ready (snapshot and model loaded) in {ready:.1f} s")
        seconds, answer, _ = timed_post(client, {}, {})
        print(
            f"first what-if (waits for the engine's set-up if not warm yet): {seconds:.2f} s; "
            f"{answer['persons']:,} persons on {answer['lists']:,} lists"
        )
        waited = wait_until_idle(process.pid)
        print(f"start-up warm-ups done after {waited:.0f} s more; scenarios timed from here")
        header = f"{'scenario':<44} {'p50':>9} {'p99':>9} {'max':>9}  {'bytes':>9}  result"
        print(f"\n{header}\n{'-' * len(header)}")
        for label, (body, params) in SCENARIOS.items():
            for _ in range(args.warmup):
                timed_post(client, body, params)
            times, size = [], 0
            for _ in range(args.repeat):
                seconds, answer, size = timed_post(client, body, params)
                times.append(seconds)
            ms = 1000 * np.asarray(times)
            moved = answer["scenario_total_nok"] - answer["baseline_total_nok"]
            print(
                f"{label:<44} {np.percentile(ms, 50):7.1f}ms {np.percentile(ms, 99):7.1f}ms "
                f"{ms.max():7.1f}ms  {size:>9,}  {answer['winners']:,} gain, "
                f"{answer['losers']:,} lose, total {moved:+,.0f} NOK"
            )
        kept = [
            timed_post(client, {"dampening": 0.5}, {}, fresh=False)[0] for _ in range(args.repeat)
        ]
        print(
            f"{'the same scenario again (kept result)':<44} "
            f"{1000 * statistics.median(kept):7.1f}ms {'':>9} {1000 * max(kept):7.1f}ms"
        )
        times = []
        for _ in range(max(3, args.repeat // 4)):
            begun = time.perf_counter()
            response = client.post("/v1/whatif/lists.csv", json={"dampening": 0.5}, headers=FRESH)
            response.raise_for_status()
            times.append(time.perf_counter() - begun)
        print(
            f"{'POST /v1/whatif/lists.csv (dampened 0.5)':<44} "
            f"{1000 * statistics.median(times):7.1f}ms {'':>9} {1000 * max(times):7.1f}ms  "
            f"{len(response.content):>9,}"
        )
        status = Path(f"/proc/{process.pid}/status")
        if status.exists():
            rss = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS"))
            print(f"\nservice process: {int(rss.split()[1]) / 1024:,.0f} MiB resident")


if __name__ == "__main__":
    main()
