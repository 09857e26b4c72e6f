"""A what-if scenario: the changes to the current scheme a policy team wants priced.

Every field is optional; a field left out keeps what the baseline model does. Bounds are declared
once, on the fields, and shared by the YAML files, the CLI and the API. ``parse_scenario`` and
``load_scenario`` turn pydantic's errors into one ``ScenarioError`` that lists every problem as
``field: what is wrong``, for example ``dampening: must be between 0 and 1``.

The fields (see ``docs/whatif.md`` for their meaning in money):

- pricing: ``dampening``, ``centrality_scale`` or ``centrality_supplement_nok``,
  ``education_threshold``, ``education_effect_scale`` or ``education_effect_nok``,
  ``refugee_rate_nok``;
- money: ``budget_nok``, ``budget_neutral``;
- model: ``model_version``, ``phase_in``;
- list-level rules: ``floor_persons``, ``break_point_persons`` with ``break_point_rate_share``.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from features import ScenarioError


def _refuse_bool(value: Any, info: ValidationInfo) -> Any:
    """Refuse ``true``/``false`` where a number is asked; pydantic would take them as 1 and 0."""
    if isinstance(value, bool):
        whole = info.field_name in _WHOLE_NUMBERS
        raise PydanticCustomError("int_type" if whole else "float_type", "a number, not a bool")
    if isinstance(value, dict) and any(isinstance(item, bool) for item in value.values()):
        raise PydanticCustomError("float_type", "a number, not a bool")
    return value


_WHOLE_NUMBERS = ("floor_persons", "break_point_persons")


# Bounds far beyond any scheme, far below float overflow: an amount such as 1e308 or a scale of
# 1e300 is refused, not priced into infinities, so an answer never carries inf or NaN.
MAX_SCALE = 100.0  # a hundredfold effect
MAX_NOK_PER_PERSON = 1e6  # a million NOK per person per year
MAX_BUDGET_NOK = 1e12  # a trillion NOK: far above any national budget
MAX_PERSONS = 1_000_000  # more persons than any list
MAX_NAME = 64  # a model version or name
# JSON object keys are text: a centrality class arrives as "5", so the key alone is lax.
CentralityClass = Annotated[int, Field(ge=2, le=6, strict=False)]
NonNegativeNok = Annotated[float, Field(ge=0, le=MAX_NOK_PER_PERSON)]
STRICT = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class PhaseIn(BaseModel):
    """A gradual move between two models: person grants blended ``share`` new, the rest old."""

    model_config = STRICT

    from_version: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        description="the model being phased out (a registered version or name)",
    )
    share: float = Field(ge=0, le=1, description="share of the new model in each person's grant")

    _numbers = field_validator("share", mode="before")(_refuse_bool)


class Scenario(BaseModel):
    """Changes to the current scheme; a field left out (None) keeps the baseline's value.

    Strict: ``"0.5"`` is not a number and ``1`` is not ``true``, as in the grant routes; no NaN
    or infinity; every amount, scale and count bounded.
    """

    model_config = STRICT

    title: str | None = Field(None, max_length=200, description="a name for reports")
    description: str | None = Field(None, max_length=2000, description="what the scenario asks")

    dampening: float | None = Field(
        None, ge=0, le=1, description="share of the grant kept flat: weight (1 - d) * w + d"
    )
    centrality_scale: float | None = Field(
        None,
        ge=0,
        le=MAX_SCALE,
        description="multiplies the estimated centrality effects (1 keeps them, at most 100)",
    )
    centrality_supplement_nok: dict[CentralityClass, NonNegativeNok] | None = Field(
        None,
        description="fixed NOK per person per year for the centrality classes named (2-6), "
        "paid outside the weights in place of their estimated effect",
    )
    education_threshold: float | None = Field(
        None, ge=0, le=1, description="primary-only share above which the area is low-education"
    )
    education_effect_scale: float | None = Field(
        None,
        ge=0,
        le=MAX_SCALE,
        description="multiplies the estimated low-education effect (1 keeps it, at most 100)",
    )
    education_effect_nok: float | None = Field(
        None,
        ge=0,
        le=MAX_NOK_PER_PERSON,
        description="fixed NOK per person per year in a low-education area, paid outside the "
        "weights in place of the estimated effect",
    )
    refugee_rate_nok: float | None = Field(
        None,
        ge=0,
        le=MAX_NOK_PER_PERSON,
        description="fixed NOK per first-year refugee per year, replacing the effect",
    )
    budget_nok: float | None = Field(
        None,
        ge=0,
        le=MAX_BUDGET_NOK,
        description="the scenario's annual total in NOK over the snapshot (at most 1e12)",
    )
    budget_neutral: bool = Field(
        True,
        description="rescale the rate so the total stays the baseline's (or budget_nok); "
        "false keeps the rate and lets the total move",
    )
    model_version: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_NAME,
        description="price with this model instead of the baseline's",
    )
    phase_in: PhaseIn | None = Field(None, description="blend the new model with an old one")
    reference_release: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
        description="price the scenario with this reference release (a shipped release's name "
        "or the service's own) instead of the service's: the same persons on another "
        "period's geography",
    )
    floor_persons: int | None = Field(
        None, ge=1, le=MAX_PERSONS, description="a list under N persons is paid as if it had N"
    )
    break_point_persons: int | None = Field(
        None,
        ge=1,
        le=MAX_PERSONS,
        description="persons above N on a list are paid a lower share of the rate",
    )
    break_point_rate_share: float | None = Field(
        None, ge=0, le=1, description="share of the per-capita grant paid above the break point"
    )

    _numbers = field_validator(
        "dampening",
        "centrality_scale",
        "centrality_supplement_nok",
        "education_threshold",
        "education_effect_scale",
        "education_effect_nok",
        "refugee_rate_nok",
        "budget_nok",
        "floor_persons",
        "break_point_persons",
        "break_point_rate_share",
        mode="before",
    )(_refuse_bool)

    @model_validator(mode="after")
    def _fields_combine(self) -> Scenario:
        problems = combination_problems(self.model_dump(exclude_none=True))
        if problems:
            raise ValueError("; ".join(f"{field}: {message}" for field, message in problems))
        return self

    def canonical(self) -> str:
        """The validated scenario as canonical JSON (sorted keys, every field): what a kept
        result is found by, so only scenarios that are the same after validation share one."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False
        )

    def changed_fields(self) -> dict[str, Any]:
        """The fields the scenario sets, as they would be written in its YAML file."""
        return self.model_dump(exclude_defaults=True, exclude={"title", "description"})


def combination_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Fields that are valid alone but not together: (field, message) for each clash."""

    def given(name: str) -> bool:
        return values.get(name) is not None

    problems: list[tuple[str, str]] = []
    for scale, nok, what in (
        ("centrality_scale", "centrality_supplement_nok", "centrality supplement"),
        ("education_effect_scale", "education_effect_nok", "education effect"),
    ):
        if given(scale) and given(nok):
            problems.append(
                (nok, f"excludes {scale}: scale the estimated {what} or set it in NOK, not both")
            )
    if given("budget_nok") and values.get("budget_neutral") is False:
        problems.append(
            ("budget_nok", "excludes budget_neutral: false; a budget is met by rescaling the rate")
        )
    if given("break_point_persons") != given("break_point_rate_share"):
        missing = (
            "break_point_rate_share" if given("break_point_persons") else "break_point_persons"
        )
        problems.append((missing, "is required with the other break point field"))
    floor, break_point = values.get("floor_persons"), values.get("break_point_persons")
    # JSON may write a whole number as 1.0; pydantic takes it as the int 1, and so must this.
    numbers = (int, float)
    if (
        isinstance(floor, numbers)
        and isinstance(break_point, numbers)
        and not isinstance(floor, bool)
        and not isinstance(break_point, bool)
        and floor > break_point
    ):
        problems.append(("floor_persons", "must not exceed break_point_persons"))
    return problems


# -- from pydantic's errors to one ScenarioError ------------------------------------------------

_KEY_NOUNS = {"centrality_supplement_nok": "centrality class"}
_TYPE_MESSAGES = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long",
    "missing": "is required",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "finite_number": "must be a finite number",
}


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _metadata_of(annotation: Any) -> list:
    args = get_args(annotation)
    found: list = []
    for arg in args[1:]:
        found += getattr(arg, "metadata", [])
    return found


def _bounds(model: type[BaseModel], loc: tuple) -> tuple[float | None, float | None]:
    """The declared lower and upper bound of the field at ``loc``, read from its Field."""
    if not loc or loc[0] not in model.model_fields:
        return None, None
    info = model.model_fields[loc[0]]
    rest = loc[1:]
    metadata = list(info.metadata)
    annotation = _unwrap_optional(info.annotation)
    if rest and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _bounds(annotation, rest)
    if rest and get_origin(annotation) is dict:
        key_type, value_type = get_args(annotation)
        metadata = _metadata_of(key_type if rest[-1] == "[key]" else value_type)
    low = next((float(m.ge) for m in metadata if isinstance(m, annotated_types.Ge)), None)  # type: ignore[arg-type]
    high = next((float(m.le) for m in metadata if isinstance(m, annotated_types.Le)), None)  # type: ignore[arg-type]
    return low, high


def _where(loc: tuple) -> str:
    """``phase_in.share``, ``centrality_supplement_nok[7]``: where a problem is, as written."""
    text = ""
    for position, item in enumerate(loc):
        if item == "[key]":
            continue
        if position == 0:
            text = str(item)
        elif isinstance(item, str) and position == 1 and loc[0] == "phase_in":
            text += f".{item}"
        else:
            text += f"[{item}]"
    return text


def _message(model: type[BaseModel], error: dict) -> tuple[str, str]:
    loc = tuple(error["loc"])
    where = _where(loc)
    kind = error["type"]
    subject = f"{_KEY_NOUNS.get(str(loc[0]), 'key')} " if loc and loc[-1] == "[key]" else ""
    if kind == "extra_forbidden":
        known = model.model_fields
        parent = loc[:-1]
        if parent and parent[0] in known:
            nested = _unwrap_optional(known[parent[0]].annotation)
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                known = nested.model_fields
        return where, f"unknown field (known fields: {', '.join(known)})"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(model, loc)
        if low is not None and high is not None:
            return where, f"{subject}must be between {low:g} and {high:g}"
        if low is not None:
            return where, f"{subject}must be at least {low:g}" if low else "must not be negative"
        if high is not None:
            return where, f"{subject}must be at most {high:g}"
    if kind in _TYPE_MESSAGES:
        return where, subject + _TYPE_MESSAGES[kind]
    return where, subject + error["msg"][:1].lower() + error["msg"][1:]


def scenario_error(problems: list[tuple[str, str]], source: str | None = None) -> ScenarioError:
    """One ``ScenarioError`` listing ``(field, message)`` problems, with the fields attached.

    The error carries ``field`` (the first problem's), ``problems`` and ``path`` (the source).
    """
    prefix = f"scenario {source}: " if source else "scenario: "
    lines = [f"{field}: {message}" if field else message for field, message in problems]
    if len(lines) == 1:
        text = prefix + lines[0]
    else:
        text = prefix + f"{len(lines)} problems\n" + "\n".join(f"  {line}" for line in lines)
    return ScenarioError(text, field=problems[0][0], problems=problems, path=source)


def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """A scenario from a mapping, with every problem listed in one ``ScenarioError``.

    ``source`` names where the mapping came from (a file) in the message.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise scenario_error([("", f"must be a mapping of scenario fields, not {kind}")], source)
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_message(Scenario, dict(error)) for error in exc.errors() if error["loc"]]
        known = {k: v for k, v in data.items() if k in Scenario.model_fields}
        problems += [p for p in combination_problems(known) if p not in problems]
        if not problems:  # a whole-scenario check with no field of its own: its message alone
            problems = [("", str(error["msg"])) for error in exc.errors()]
        raise scenario_error(problems, source) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file; a bad file raises ``ScenarioError`` naming the file and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise scenario_error([("", f"cannot be read ({exc.strerror or exc})")], str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise scenario_error([("", f"is not valid YAML{where}")], str(path)) from exc
    if data is None:
        raise scenario_error([("", "is empty; write at least one scenario field")], str(path))
    return parse_scenario(data, source=str(path))


__all__ = [
    "PhaseIn",
    "Scenario",
    "combination_problems",
    "load_scenario",
    "parse_scenario",
    "scenario_error",
]
