"""What-if: a scenario priced against the current scheme, per list, kommune and centrality class.

No HTTP here; the API route (``serving.routes.whatif``), ``ptb whatif`` and the benchmarks call it.

- ``scenario``: what a scenario may change, parsed from a file or a request body;
- ``cells``: a snapshot collapsed to cells of equal indicators, priced per cell;
- ``engine``: ``WhatIfEngine``, the national run on those cells (the method and the money);
- ``result``: ``WhatIfResult``, what a run found, in tables;
- ``report``: the CSV files and charts of ``ptb whatif``;
- ``cache``: engines and results kept per snapshot and model versions for the API;
- ``process``: the engines in a child process of their own, away from the grant routes;
- ``waterfall_report``: the reform waterfall's CSV files and chart (``ptb whatif --reform``).
"""

from serving.whatif.cache import WhatIfEngines, run_scenario
from serving.whatif.engine import (
    TOLERANCE_NOK,
    TOP_N,
    WhatIfEngine,
    list_rule_factor,
    run_whatif,
)
from serving.whatif.process import WhatIfProcess
from serving.whatif.report import summary_table, write_report
from serving.whatif.result import HISTOGRAM_BINS, WhatIfResult, build_result, change_histogram
from serving.whatif.scenario import (
    PhaseIn,
    Scenario,
    load_scenario,
    parse_scenario,
    scenario_error,
)
from serving.whatif.waterfall_report import write_waterfall

__all__ = [
    "write_waterfall",
    "HISTOGRAM_BINS",
    "TOLERANCE_NOK",
    "TOP_N",
    "PhaseIn",
    "Scenario",
    "WhatIfEngine",
    "WhatIfEngines",
    "WhatIfProcess",
    "WhatIfResult",
    "build_result",
    "change_histogram",
    "list_rule_factor",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
    "run_whatif",
    "scenario_error",
    "summary_table",
    "write_report",
]
