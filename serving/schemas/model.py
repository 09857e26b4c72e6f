"""``/v1/model``: the serving model, its weight table and the scheme its grants pay with."""

from __future__ import annotations

from pydantic import BaseModel, Field

from serving.schemas.common import ModelProvenance
from serving.schemas.health import WorkerModel
from serving.schemas.release import RATE_BASIS, RateBasis, ReleaseInfo


class SchemeInfo(BaseModel):
    """The scheme a grant was computed with: dampening, rate, budget, refugee rate."""

    dampening: float = Field(description="share of the grant kept flat per person, 0-1")
    rate_nok: float = Field(description="annual NOK per unit of relative weight")
    budget_nok: float = Field(description="annual budget the rate spreads, NOK")
    average_grant_nok: float = Field(description="NOK per listed person behind the budget")
    refugee_rate_nok: float | None = Field(description="fixed annual NOK per first-year refugee")
    reference_persons: int = Field(description="persons the rate was made budget-neutral over")
    utjamning_moved_nok: float | None = Field(
        None, description="2026 rule: the utjamningstilskudd money U spent on centrality, NOK"
    )
    centrality_strengthening_nok: dict[str, float] | None = Field(
        None, description="2026 rule: NOK per person a year on a class 5 and a class 6 list"
    )


class WeightRow(BaseModel):
    """One level of one factor in the weight table."""

    factor: str
    level_code: int
    level: str
    effect_nok: float = Field(description="annual NOK this level adds to the expected cost")
    relative_weight: float = Field(description="effect over the mean expected cost")
    persons: int | None = None
    std_err: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class ModelInfo(ModelProvenance):
    """The serving (or a pinned) model: version, training run, weight table and scheme."""

    trained_on: str = Field(description="SHA-256 fingerprint of the training data set")
    trained_on_release: str = Field(
        description="the reference release the model was trained on (provenance only)"
    )
    reference_release: ReleaseInfo = Field(description="the release the service prices with")
    rate_basis: RateBasis = Field(description=RATE_BASIS)
    mean_cost_nok: float = Field(description="mean expected annual cost, NOK: a weight of 1")
    indicators: dict = Field(description="indicator definitions: bands, threshold, areas")
    scheme: SchemeInfo
    weight_table: list[WeightRow]
    workers: list[WorkerModel] = Field(
        default_factory=list, description="the version each worker of this instance serves"
    )
