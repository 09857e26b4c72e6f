"""The synthetic country: persons on GP lists in Norway's 357 kommuner, with a known cost model.

The product is trained, tested and benchmarked on this population because registry data
(FLO, KUHR) cannot leave the registry. Kommuner and their centrality classes are real (SSB);
everything below them is drawn. The cost model is additive in the indicators the tariff uses,
so a calibration can be checked against the truth: see ``docs/cost-model.md``. Every constant
is read from ``features/reference/synth_cost_model.yaml``.

- ``country``: ``synthesise``, the steps in order from one seed, laid out as a ``Dataset``;
- ``parameters``: the constants (``load_parameters``) and the SSB reference tables;
- ``draws``: the two vectorised draws the steps are built from (apportion, pick within);
- ``areas``: kommuner, grunnkretser and bydeler, the education shares true and published;
- ``persons``: residence, age and sex, first-year refugees, months listed;
- ``lists``: lists per kommune and the list of every person;
- ``practice``: each list's practice facts (form of practice, list cap, agreement start);
- ``cost_model``: a person's expected annual cost and the drawn costs and copayments;
- ``progress``: the steps' optional progress bar.
"""

from features.synth.cost_model import age_cost_curve, draw_costs, expected_annual_cost
from features.synth.country import synthesise
from features.synth.parameters import by_centrality_class, load_parameters
from features.synth.practice import size_band

__all__ = [
    "age_cost_curve",
    "by_centrality_class",
    "draw_costs",
    "expected_annual_cost",
    "load_parameters",
    "size_band",
    "synthesise",
]
