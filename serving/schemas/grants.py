"""``/v1/grants``: a person, a list and the settlement export; each field carries its constraints.

Codes are strict strings (``"0301"`` stays ``"0301"``; the number ``301`` is refused, as the
data contract refuses it); numbers are strict too (``"44"`` is not an age). Unknown fields are
refused, so a misspelt field is an error rather than a silent default.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model, with_config
from typing_extensions import TypedDict

from features import MAX_COPAYMENT_NOK
from serving.schemas.common import ModelProvenance, ModelRef, StrictRequest
from serving.schemas.model import SchemeInfo
from serving.schemas.release import RATE_BASIS, CodeChangeOut, RateBasis

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
        le=MAX_COPAYMENT_NOK,
        allow_inf_nan=False,
        description="copayments paid at regular GPs in the previous year, NOK (at most "
        "1,000,000, the data contract's bound)",
    ),
]
RefugeeFirstYear = Annotated[
    StrictBool,
    Field(description="asylum seeker or settled refugee in the first year in the scheme"),
]


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


class PersonIn(StrictRequest):
    """One person's indicators and the kommune where their GP practises."""

    age: Age
    sex: Sex
    grunnkrets: Grunnkrets
    copayment_prev_year: Copayment
    refugee_first_year: RefugeeFirstYear
    practice_kommune: Kommune
    model_version: ModelRef = None


SchemeDate = Annotated[
    date | None,
    Field(
        description="the payment date whose rule applies (YYYY-MM-DD): model 0 with "
        "utjamningstilskudd before 1 July 2026, the 2026 rule from then; default: today",
        examples=["2026-11-30"],
    ),
]
Rule = Literal["model0_2023", "model_2026"]


class ListIn(StrictRequest):
    """A GP list: its practice kommune, its persons (at least one) and, for the list-level
    lines of the basistilskudd, the GP's practice facts (each optional)."""

    practice_kommune: Kommune
    persons: list[ListPersonIn] = Field(min_length=1, max_length=MAX_LIST_PERSONS)
    model_version: ModelRef = None
    scheme_date: SchemeDate = None
    form_of_practice: Literal["self_employed", "salaried"] | None = Field(
        None, description="the GP's form of practice (utjamningstilskudd: self-employed only)"
    )
    list_cap: int | None = Field(
        None, strict=True, ge=0, le=100_000, description="the list cap, listetak (grunntilskudd)"
    )
    agreement_start: date | None = Field(
        None, description="start of the GP's agreement on this list (grunntilskudd: months 1-24)"
    )


# ``ListIn`` without its persons: the list's own fields, by the same rules, for a list whose
# persons are checked a column at a time (``serving.posted_list``). Never in the OpenAPI.
ListHeaderIn = create_model(
    "ListHeaderIn",
    __base__=StrictRequest,
    **{name: (f.annotation, f) for name, f in ListIn.model_fields.items() if name != "persons"},  # type: ignore[call-overload]
)


class _Grant(ModelProvenance):
    reference_release: str = Field(
        description="the reference release whose facts (education shares, centrality, codes) "
        "placed the persons in the model's levels"
    )
    rate_basis: RateBasis = Field(description=RATE_BASIS)
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


class Basistilskudd(BaseModel):
    """The whole basistilskudd of a list under the rule of the scheme date: three lines and
    their total, annual NOK rounded to øre. A line is 0 where it does not apply and null where
    a fact it needs is missing (``not_computable`` says which); the total is then null too."""

    scheme_date: date = Field(description="the payment date whose rule was applied")
    rule: Rule = Field(description="the legislated rule of that date")
    ptb_grant_nok: float = Field(description="the patient-adjusted grant (PTB)")
    grunntilskudd_nok: float | None = Field(description="the floor for short new lists")
    utjamningstilskudd_nok: float | None = Field(
        description="the top-up for small kommuner with short lists; 0 from 1 July 2026"
    )
    basistilskudd_nok: float | None = Field(description="the total of the three lines")
    basistilskudd_monthly_nok: float | None = Field(description="one twelfth of the total")
    not_computable: list[str] = Field(
        description="the facts missing for a line, e.g. 'grunntilskudd: lists.list_cap is missing'"
    )


class ListGrant(_Grant, Basistilskudd):
    """A list's annual grant: the sum of its persons' unrounded grants, rounded once, and the
    whole basistilskudd under the rule of the scheme date."""

    list_id: str | None = Field(None, description="the list, when looked up in the snapshot")
    practice_kommune: str
    persons: int = Field(ge=0)
    total_nok: float = Field(
        description="annual PTB grant of the list, NOK, rounded to øre (as ptb_grant_nok; "
        "basistilskudd_nok is the total of all three lines)"
    )
    monthly_nok: float = Field(description="one twelfth of total_nok, rounded to øre")
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
    scheme_date: date
    rule: Rule
    ptb_grant_nok: float
    grunntilskudd_nok: float | None
    utjamningstilskudd_nok: float | None
    basistilskudd_nok: float | None
    not_computable: str = Field(description="the missing facts, '; '-separated; empty if none")
