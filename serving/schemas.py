"""Request and response models of the API; each field carries its constraints.

Codes are strict strings (``"0301"`` stays ``"0301"``; the number ``301`` is refused, as the
data contract refuses it); numbers are strict too (``"44"`` is not an age). Unknown fields are
refused, so a misspelt field is an error rather than a silent default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, with_config
from typing_extensions import TypedDict

MAX_LIST_PERSONS = 20_000

Age = Annotated[
    int, Field(strict=True, ge=0, le=120, description="age in whole years on the reference date")
]
Sex = Annotated[Literal["F", "M"], Field(description='legal sex as registered, "F" or "M"')]
Grunnkrets = Annotated[
    str,
    Field(
        strict=True,
        pattern=r"^\d{8}$",
        description="SSB grunnkrets of residence: a string of 8 digits",
        examples=["03010101"],
    ),
]
Kommune = Annotated[
    str,
    Field(
        strict=True,
        pattern=r"^\d{4}$",
        description="municipality number: a string of 4 digits",
        examples=["0301"],
    ),
]
Copayment = Annotated[
    float,
    Field(
        strict=True,
        ge=0,
        allow_inf_nan=False,
        description="copayments paid at regular GPs in the previous year, NOK",
    ),
]
RefugeeFirstYear = Annotated[
    StrictBool,
    Field(description="asylum seeker or settled refugee in the first year in the scheme"),
]
VERSION_PATTERN = r"^(\d{1,9}|[A-Za-z][A-Za-z0-9_-]{0,63})$"
VersionNumber = Annotated[int, Field(strict=True, ge=1, le=999_999_999)]
VersionName = Annotated[str, Field(strict=True, pattern=VERSION_PATTERN)]
ModelRef = Annotated[
    VersionNumber | VersionName | None,
    Field(
        description="pin a model version (number) or alias; default: the serving model",
        examples=["3", "champion"],
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@with_config(ConfigDict(extra="forbid"))
class ListPersonIn(TypedDict):
    """One listed person's indicators; the practice kommune is the list's.

    A typed dict rather than a model: a list holds up to 20,000 of them, and pydantic checks a
    typed dict about a quarter faster than it builds a model (``bench/bench_http.py``).
    """

    age: Age
    sex: Sex
    grunnkrets: Grunnkrets
    copayment_prev_year: Copayment
    refugee_first_year: RefugeeFirstYear


class PersonIn(_Request):
    """One person's indicators and the kommune where their GP practises."""

    age: Age
    sex: Sex
    grunnkrets: Grunnkrets
    copayment_prev_year: Copayment
    refugee_first_year: RefugeeFirstYear
    practice_kommune: Kommune
    model_version: ModelRef = None


class ListIn(_Request):
    """A GP list: its practice kommune and its persons (at least one)."""

    practice_kommune: Kommune
    persons: list[ListPersonIn] = Field(min_length=1, max_length=MAX_LIST_PERSONS)
    model_version: ModelRef = None


class SchemeInfo(BaseModel):
    """The scheme a grant was computed with: dampening, rate, budget, refugee rate."""

    dampening: float = Field(description="share of the grant kept flat per person, 0-1")
    rate_nok: float = Field(description="annual NOK per unit of relative weight")
    budget_nok: float = Field(description="annual budget the rate spreads, NOK")
    average_grant_nok: float = Field(description="NOK per listed person behind the budget")
    refugee_rate_nok: float | None = Field(description="fixed annual NOK per first-year refugee")
    reference_persons: int = Field(description="persons the rate was made budget-neutral over")


class CodeChangeOut(BaseModel):
    """An old code in the request priced under the release's new code."""

    field: str = Field(description="the request field, e.g. grunnkrets or practice_kommune")
    old: str
    new: str
    valid_from: str = Field(description="date of the change (ISO)")


class _Grant(BaseModel):
    model_version: str = Field(description="registered model version the answer comes from")
    model_name: str = Field(description="the calibrated model, e.g. model_2026")
    model_alias: str | None = Field(None, description="the alias the version was resolved by")
    run_id: str = Field(description="MLflow run that trained the version")
    reference_release: str = Field(
        description="the reference release whose facts (education shares, centrality, codes) "
        "placed the persons in the model's levels"
    )
    rate_basis: Literal["snapshot", "model"] = Field(
        description="snapshot: the rate makes the snapshot's persons spend the period's budget; "
        "model: the model's own rate (no snapshot)"
    )
    code_changes: list[CodeChangeOut] = Field(
        default_factory=list, description="old codes in the request priced under new ones"
    )
    scheme: SchemeInfo
    period: Literal["annual"] = "annual"
    currency: Literal["NOK"] = "NOK"


class PersonGrant(_Grant):
    """One person's relative weight, annual grant and what each indicator adds to it."""

    weight: float = Field(description="relative weight (mean 1 over the reference population)")
    grant_nok: float = Field(description="annual grant, NOK, rounded to øre")
    monthly_nok: float = Field(description="one twelfth of the annual grant, rounded to øre")
    contributions: dict[str, float] = Field(
        description="NOK per indicator (age_sex, health_status, education, centrality, "
        "refugee, flat, refugee_rate); rounded to øre so they add up to grant_nok exactly"
    )


class ListGrant(_Grant):
    """A list's annual grant: the sum of its persons' unrounded grants, rounded once."""

    list_id: str | None = Field(None, description="the list, when looked up in the snapshot")
    practice_kommune: str
    persons: int = Field(ge=0)
    total_nok: float = Field(description="annual grant of the list, NOK, rounded to øre")
    monthly_nok: float = Field(description="one twelfth of the annual total, rounded to øre")
    mean_weight: float | None = Field(description="mean relative weight of the list's persons")


class ListGrantRow(BaseModel):
    """One line of the bulk export (CSV or JSON Lines) for the monthly settlement."""

    list_id: str
    practice_kommune: str
    persons: int
    total_nok: float
    monthly_nok: float
    mean_weight: float | None
    model_version: str


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


class ReleaseInfo(BaseModel):
    """A reference release: its name, period, size and the education fallback it applies."""

    name: str
    valid_from: str | None = Field(description="first day the release is valid (ISO date)")
    valid_to: str | None = Field(description="last day, or null while no later release exists")
    kommuner: int
    grunnkretser: int
    education_fallback_grunnkretser_bydel: int = Field(
        description="grunnkretser without a share that take their bydel's"
    )
    education_fallback_grunnkretser_kommune: int = Field(
        description="grunnkretser without a share that take their kommune's"
    )
    education_fallback_persons_bydel: int
    education_fallback_persons_kommune: int


class ModelInfo(BaseModel):
    """The serving (or a pinned) model: version, training run, weight table and scheme."""

    model_version: str
    model_name: str
    model_alias: str | None
    run_id: str
    trained_on: str = Field(description="SHA-256 fingerprint of the training data set")
    trained_on_release: str = Field(
        description="the reference release the model was trained on (provenance only)"
    )
    reference_release: ReleaseInfo = Field(description="the release the service prices with")
    rate_basis: Literal["snapshot", "model"]
    mean_cost_nok: float = Field(description="mean expected annual cost, NOK: a weight of 1")
    indicators: dict = Field(description="indicator definitions: bands, threshold, areas")
    scheme: SchemeInfo
    weight_table: list[WeightRow]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the serving model (and snapshot) are loaded."""

    status: Literal["ready", "loading", "failed"]
    model_version: str | None = None
    model_name: str | None = None
    snapshot_lists: int | None = None
    reference_release: str | None = None
    rate_basis: Literal["snapshot", "model"] | None = None
    error: str | None = None


class ErrorDetail(BaseModel):
    field: str = Field(description="where: a field name or path such as persons.3.age")
    rule: str = Field(description="the rule broken, e.g. less_than_equal, string_pattern_mismatch")
    message: str


class ErrorBody(BaseModel):
    """Every error the API returns."""

    error: str = Field(description="machine-readable kind, e.g. validation_error, unknown_code")
    message: str
    field: str | None = None
    codes: list[str] | None = Field(None, description="unknown codes, for unknown_code")
    candidates: list[str] | None = Field(
        None, description="the codes a split code became, for split_code: send one of them"
    )
    reference_release: str | None = Field(
        None, description="the release the code was looked up in, for unknown_code, split_code"
    )
    available_versions: list[str] | None = Field(
        None, description="registered versions, for model_not_found"
    )
    details: list[ErrorDetail] | None = None


class ReloadIn(_Request):
    """Which model to serve from now on: an alias or version; default the configured alias."""

    model: VersionNumber | VersionName | None = Field(
        None,
        description="alias (champion, challenger) or version number; default: the serving "
        "alias the service was started with, resolved afresh",
        examples=["champion", "7"],
    )


class ModelCheck(BaseModel):
    """One check a model version ran before serving."""

    name: str = Field(description="checksums, smoke_score or snapshot_grants")
    passed: bool
    detail: str


class ReloadResult(BaseModel):
    """The model serving after a reload, the one before, and the checks it passed."""

    requested: str
    switched: bool = Field(description="false when the requested model was serving already")
    model_version: str
    model_name: str
    model_alias: str | None
    run_id: str
    previous_version: str | None
    checks: list[ModelCheck]
    seconds: float = Field(description="time to load, check and switch")
