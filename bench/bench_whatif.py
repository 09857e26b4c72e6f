"""What-if at national scale, in process: seconds to prepare, then milliseconds per scenario.

Run by hand: ``.venv/bin/python bench/bench_whatif.py [--persons N] [--repeat R]``. Prints the
one-off costs (synthesise, calibrate, engine set-up per bundle) and, per scenario, the median
and worst time of ``WhatIfEngine.run`` over the repeats (target: under 1 s for the country).
"""

from __future__ import annotations

import argparse
import statistics
import time

from features import persons_with_practice, synthesise
from serving.whatif import PhaseIn, Scenario, WhatIfEngine
from training.fit import calibrate

SCENARIOS = {
    "identical to the baseline": Scenario(),
    "dampened 0.5": Scenario(dampening=0.5),
    "strengthened centrality (NOK 500 / 1,000)": Scenario(
        centrality_supplement_nok={5: 500.0, 6: 1000.0}
    ),
    "centrality effects doubled": Scenario(centrality_scale=2.0),
    "education threshold 0.20": Scenario(education_threshold=0.20),
    "education NOK 150, refugee NOK 3,000": Scenario(
        education_effect_nok=150.0, refugee_rate_nok=3000.0
    ),
    "floor 500 and break point 1,500 at 0.6": Scenario(
        floor_persons=500, break_point_persons=1500, break_point_rate_share=0.6
    ),
    "dampened 0.25, rate kept (total moves)": Scenario(budget_neutral=False, dampening=0.25),
}


def _timed(label: str, action):
    start = time.perf_counter()
    value = action()
    print(f"{label:<52} {time.perf_counter() - start:8.2f} s")
    return value


def _bench(label: str, run, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(
        f"  {label:<50} median {1000 * statistics.median(times):7.1f} ms"
        f"   worst {1000 * max(times):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    dataset = _timed("synthesise", lambda: synthesise(args.persons, seed=args.seed))
    model_2026 = _timed("calibrate model_2026", lambda: calibrate(dataset).bundle)
    model0_2023 = _timed(
        "calibrate model0_2023", lambda: calibrate(dataset, name="model0_2023").bundle
    )
    persons = _timed("persons_with_practice", lambda: persons_with_practice(dataset))
    engine = _timed(
        "WhatIfEngine set-up (features, cells, baseline)",
        lambda: WhatIfEngine(persons, dataset.lists, dataset.kommuner, model_2026),
    )
    _timed(
        "first use of model0_2023 (its features, cached)", lambda: engine.snapshot_of(model0_2023)
    )
    print(f"\n{len(persons):,} persons on {engine.n_lists:,} lists; run times per scenario:")
    for label, scenario in SCENARIOS.items():
        _bench(label, lambda scenario=scenario: engine.run(scenario), args.repeat)
    _bench(
        "model0_2023 as the scenario model",
        lambda: engine.run(Scenario(model_version="model0_2023"), scenario_bundle=model0_2023),
        args.repeat,
    )
    _bench(
        "phase-in 50 % from model0_2023",
        lambda: engine.run(
            Scenario(phase_in=PhaseIn(from_version="model0_2023", share=0.5)),
            phase_in_from=model0_2023,
        ),
        args.repeat,
    )
    result = engine.run(SCENARIOS["dampened 0.5"])
    print(
        f"\ncheck: dampened 0.5 moves {result.winners:,} lists up, {result.losers:,} down; "
        f"total {result.scenario_total_nok:,.2f} NOK vs baseline {result.baseline_total_nok:,.2f}"
    )


if __name__ == "__main__":
    main()
