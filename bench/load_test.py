"""Load test: mixed person, list and what-if requests at a fixed rate against the national snapshot.

Run by hand (needs ``wrk``: ``apt-get install -y wrk``)::

    .venv/bin/python bench/load_test.py --duration 600 [--rate 500] [--mix person=60,...]
        [--workers 2] [--whatif-process] [--whatif-apart]

Builds (once, cached under ``$TMPDIR/ptb-bench``, shared with ``bench_http.py``) the national
data set and a registry with ``model_2026``, then starts the service as production runs it:
``uvicorn serving.worker:create_app_from_env --factory`` with ``PTB_ENVIRONMENT=production``, an API
keys file, the audit log and JSON access logs (to a file), on 127.0.0.1. wrk (``load_test.lua``)
sends a mix of requests drawn from a file, arriving at random (a Poisson process, as in
``bench_http.py``) at ``--rate`` a second over ``--connections`` connections:

- ``person``: ``POST /v1/grants/person``, one person of the data set;
- ``list``: ``GET /v1/grants/lists/{list_id}``, a list of the snapshot;
- ``list_post``: ``POST /v1/grants/list`` with ``--list-persons`` persons of a real list;
- ``whatif``: ``POST /v1/whatif`` with one of a few scenarios, as the /policy page asks.

While wrk runs, the service's resident memory is sampled every ``--sample`` seconds. At the end
it prints wrk's errors and latency percentiles (wrk measures each request from send to last
byte; when every connection is busy an arrival waits unmeasured, so p99 under overload reads
low),
the status codes, per-route counts and latency from the service's own ``/metrics``, the audit
log's record count (verified), and the memory samples with their trend.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from bench_http import (  # noqa: E402
    free_port,
    instance_settings,
    national_data,
    registry,
    service,
    service_env,
    uvicorn_command,
)

from features import load_dataset  # noqa: E402

WHATIF_SCENARIOS = (
    {},
    {"dampening": 0.5},
    {"centrality_scale": 2.0},
    {"refugee_rate_nok": 3000},
    {"education_threshold": 0.22, "education_effect_nok": 150},
)
WHATIF_QUERY = "?kommuner=15&kommune_order=change_nok&top=8"  # what the /policy page asks
DEFAULT_MIX = "person=60,list=30,list_post=9,whatif=1"
LINES = 5000  # requests in the drawn-from file; the mix holds to within a line


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in ("person", "list", "list_post", "whatif"):
            raise SystemExit(f"--mix: unknown kind {name!r} (person, list, list_post, whatif)")
        mix[name.strip()] = float(weight)
    total = sum(mix.values())
    return {name: weight / total for name, weight in mix.items() if weight > 0}


def request_lines(data: Path, mix: dict[str, float], list_persons: int, seed: int) -> list[str]:
    """``METHOD<TAB>PATH<TAB>BODY`` lines in the mix's proportions, drawn from the data set."""
    dataset = load_dataset(data)
    persons, lists = dataset.persons, dataset.lists
    practice = lists.set_index("list_id")["practice_kommune"]
    rng = np.random.default_rng(seed)

    def person(row) -> dict:
        return {
            "age": int(row.age),
            "sex": str(row.sex),
            "grunnkrets": str(row.grunnkrets),
            "copayment_prev_year": float(row.copayment_prev_year),
            "refugee_first_year": bool(row.refugee_first_year),
        }

    kinds: dict[str, list[str]] = {}
    if "person" in mix:
        rows = persons.iloc[rng.choice(len(persons), 2000, replace=False)]
        kinds["person"] = [
            "POST\t/v1/grants/person\t"
            + json.dumps({**person(r), "practice_kommune": str(practice[r.list_id])})
            for r in rows.itertuples()
        ]
    if "list" in mix:
        ids = rng.choice(lists["list_id"].to_numpy(), min(1000, len(lists)), replace=False)
        kinds["list"] = [f"GET\t/v1/grants/lists/{list_id}\t" for list_id in ids]
    if "list_post" in mix:
        kinds["list_post"] = []
        by_list = persons.groupby("list_id", sort=False).indices
        for list_id in rng.choice(lists["list_id"].to_numpy(), 20, replace=False):
            members = persons.iloc[by_list[list_id][:list_persons]]
            body = {
                "practice_kommune": str(practice[list_id]),
                "persons": [person(p) for p in members.itertuples()],
            }
            kinds["list_post"].append("POST\t/v1/grants/list\t" + json.dumps(body))
    if "whatif" in mix:
        kinds["whatif"] = [
            f"POST\t/v1/whatif{WHATIF_QUERY}\t" + json.dumps(body) for body in WHATIF_SCENARIOS
        ]
    lines = []
    for kind, share in mix.items():
        choices = kinds[kind]
        lines += [choices[i % len(choices)] for i in range(max(1, round(share * LINES)))]
    random.Random(seed).shuffle(lines)
    return lines


def resident_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), MiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
        pending += [int(child) for child in children]
    return total / 1024


def sample_memory(pid: int, every: float, stop: threading.Event, out: list) -> None:
    started = time.monotonic()
    while True:
        out.append((time.monotonic() - started, resident_mib(pid)))
        if stop.wait(every):
            out.append((time.monotonic() - started, resident_mib(pid)))
            return


def post_whatifs(url: str, key: str, rate: float, stop: threading.Event, out: list) -> None:
    """What-ifs arriving at random at ``rate`` a second, each timed by the client (seconds)."""
    arrivals = random.Random(11)
    headers = {"Authorization": f"Bearer {key}", "Cache-Control": "no-cache"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while not stop.wait(arrivals.expovariate(rate)):
            begun = time.perf_counter()
            answer = client.post(
                f"/v1/whatif{WHATIF_QUERY}", json=arrivals.choice(WHATIF_SCENARIOS)
            )
            out.append((answer.status_code, time.perf_counter() - begun))


def run_wrk(url: str, lines: Path, key: str, args, seconds: int, rate: float) -> dict:
    """``rate`` requests/s, arriving at random (Poisson), over one wrk thread."""
    command = ["wrk", "-t", "1", "-c", str(args.connections)]
    command += ["-d", f"{seconds}s", "--timeout", "10s", "-s", str(BENCH / "load_test.lua")]
    command += [url, "--", str(lines), str(rate), key]
    # From bench/, where the script finds the poisson_arrivals module.
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=BENCH)
    found = [
        json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")
    ]
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    result = found[0]
    result["rate"] = result["requests"] / result["seconds"]
    return result


def route_figures(metrics_text: str) -> dict[str, dict]:
    """Per route: requests by status, and p50/p99 from the latency histogram (bucket bounds)."""
    routes: dict[str, dict] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            route = sample.labels.get("route")
            if route is None or not route.startswith("/v1/"):
                continue
            entry = routes.setdefault(route, {"statuses": {}})
            if sample.name == "ptb_http_requests_total":
                status = sample.labels["status"]
                entry["statuses"][status] = entry["statuses"].get(status, 0) + int(sample.value)
            elif sample.name == "ptb_http_request_duration_seconds_bucket":
                buckets.setdefault(route, []).append((float(sample.labels["le"]), sample.value))
    for route, found in buckets.items():
        found.sort()
        total = found[-1][1]
        for q in (0.5, 0.99):
            bound = next((le for le, n in found if total and n >= q * total), float("inf"))
            routes[route][f"p{round(q * 100)}_le_ms"] = bound * 1000
    return routes


def trend(samples: list[tuple[float, float]], skip_seconds: float) -> tuple[float, float, float]:
    """After the first ``skip_seconds``: slope (MiB/min), spread (MiB) and floor drift (MiB).

    The floor drift (lowest sample of the last third minus lowest of the first third) ignores
    the short peaks of a what-if's working memory, which a slope over a short run does not.
    """
    steady = [(t, m) for t, m in samples if t >= skip_seconds] or samples
    if len(steady) < 2:
        return 0.0, 0.0, 0.0
    t, m = np.array(steady).T
    slope = float(np.polyfit(t / 60, m, 1)[0])
    third = max(1, len(m) // 3)
    return slope, float(m.max() - m.min()), float(m[-third:].min() - m[:third].min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--rate", type=float, default=500, help="requests per second in total")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"kind=weight,... ({DEFAULT_MIX})")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--list-persons", type=int, default=500, help="persons per list_post")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--warm-up", type=int, default=10, help="seconds of load not reported")
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--whatif-process",
        action="store_true",
        help="price what-ifs in a child process of each worker (PTB_WHATIF_PROCESS)",
    )
    parser.add_argument(
        "--whatif-apart",
        action="store_true",
        help="send the what-ifs from a client of their own, so wrk's latency is the grant "
        "routes' alone",
    )
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ptb-bench")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    mix = parse_mix(args.mix)
    whatif_rate = args.rate * mix.pop("whatif", 0.0) if args.whatif_apart else 0.0
    wrk_rate = args.rate - whatif_rate

    from serving.access import add_key
    from serving.access.audit import read_request_key, write_request_key
    from serving.access.audit_check import verify

    data, _ = national_data(args.persons, 2026, args.cache)
    uri, versions = registry(data, data.parent / "registry")
    version = versions["challenger"]
    work = Path(tempfile.mkdtemp(prefix="ptb-load-"))
    lines = work / "requests.tsv"
    lines.write_text("\n".join(request_lines(data, mix, args.list_persons, seed=7)) + "\n")
    key = add_key(work / "api-keys.json", "load-test", "policy")
    (work / "metrics").mkdir()
    env = service_env(
        PTB_TRACKING_URI=uri,
        PTB_MODEL=version,
        PTB_MODEL_CACHE_DIR=str(work / "cache"),
        PTB_DATA_DIR=str(data),
        PTB_ENVIRONMENT="production",
        PTB_API_KEYS_FILE=str(work / "api-keys.json"),
        PTB_AUDIT_LOG=str(work / "audit.jsonl"),
        PTB_AUDIT_KEY_FILE=str(write_request_key(work / "audit.key")),
        # Every worker's requests in one scrape, as ``ptb serve --workers`` arranges it.
        PROMETHEUS_MULTIPROC_DIR=str(work / "metrics"),
        **instance_settings(work, args.workers),
        PTB_WHATIF_PROCESS=str(args.whatif_process).lower(),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = uvicorn_command(
        "serving.worker:create_app_from_env", port, "--workers", str(args.workers)
    )
    shares = ", ".join(f"{kind} {share:.0%}" for kind, share in mix.items())
    print(f"model version {version}; {args.workers} uvicorn worker(s); {os.cpu_count()} CPUs")
    print(f"{args.rate:g} requests/s for {args.duration} s: {shares}; work dir {work}")
    started = time.perf_counter()
    log = work / "service.log"
    with service(command, env, f"{url}/readyz", log) as process:
        print(f"service ready in {time.perf_counter() - started:.1f} s")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for body in WHATIF_SCENARIOS:  # the what-if engine is built on first use
                client.post(f"/v1/whatif{WHATIF_QUERY}", json=body).raise_for_status()
        samples: list[tuple[float, float]] = []
        whatifs: list[tuple[int, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(
            target=sample_memory, args=(process.pid, args.sample, stop, samples), daemon=True
        )
        sampler.start()
        try:
            if args.warm_up > 0:
                run_wrk(url, lines, key, args, args.warm_up, wrk_rate)
            if whatif_rate > 0:
                threading.Thread(
                    target=post_whatifs,
                    args=(url, key, whatif_rate, stop, whatifs),
                    daemon=True,
                ).start()
            result = run_wrk(url, lines, key, args, args.duration, wrk_rate)
        finally:
            stop.set()
            sampler.join()
        metrics_text = httpx.get(f"{url}/metrics", timeout=30).text
    audit = verify(work / "audit.jsonl", read_request_key(work / "audit.key"))

    print(
        f"\nwrk: {result['requests']:,} requests in {result['seconds']:.0f} s = "
        f"{result['rate']:.0f}/s (Poisson arrivals over {args.connections} connections)"
    )
    print(
        f"errors: non-2xx {result['non2xx']}, socket {result['socket_errors']} "
        f"(connect {result['connect_errors']}, read {result['read_errors']}, "
        f"write {result['write_errors']}, timeout {result['timeouts']})"
    )
    print(f"statuses: {result['statuses']}")
    print(
        f"latency ({'grant routes' if whatif_rate else 'all requests'}, wrk): "
        + "  ".join(
            f"{name} {result[key_] / 1e3:.2f} ms"
            for name, key_ in (
                ("p50", "p50_us"),
                ("p90", "p90_us"),
                ("p99", "p99_us"),
                ("p99.9", "p999_us"),
                ("max", "max_us"),
            )
        )
    )
    if whatifs:
        seconds = np.array([s for _, s in whatifs]) * 1e3
        statuses = {str(c): sum(1 for code, _ in whatifs if code == c) for c, _ in whatifs}
        print(
            f"what-if ({whatif_rate:g}/s from a client of their own): {len(whatifs)} requests "
            f"{statuses}  p50 {np.percentile(seconds, 50):.1f} ms  "
            f"p99 {np.percentile(seconds, 99):.1f} ms  max {seconds.max():.1f} ms"
        )
    print("\nper route, from the service's /metrics (p50/p99: histogram bucket bounds):")
    for route, figures in sorted(route_figures(metrics_text).items()):
        print(
            f"  {route:<32} {figures['statuses']}  p50 <= {figures.get('p50_le_ms', 0):g} ms  "
            f"p99 <= {figures.get('p99_le_ms', 0):g} ms"
        )
    print(f"\naudit log: {audit.records:,} records, chain intact, head {audit.head[:16]}...")
    print(f"\nresident memory every {args.sample:g} s (MiB):")
    print("  " + " ".join(f"{m:.0f}" for _, m in samples))
    slope, spread, drift = trend(samples, skip_seconds=min(60.0, args.duration / 3))
    print(
        f"  start {samples[0][1]:.0f}, end {samples[-1][1]:.0f}; after warm-up: "
        f"trend {slope:+.2f} MiB/min, spread {spread:.1f} MiB, floor drift {drift:+.1f} MiB"
    )


if __name__ == "__main__":
    main()
