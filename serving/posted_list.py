"""A posted list's body, read as the list's fields and five columns of persons.

A list holds up to 20,000 persons, and checking each one as a typed dict was the largest cost
of ``POST /v1/grants/list`` after parsing. So a list's persons are first checked a column at a
time, by the rules of ``ListPersonIn`` or stricter ones (ASCII digits only, say). Whatever
those checks do not accept outright goes to pydantic and ``ListIn``, which answers an invalid
body with exactly the errors it always got; a valid body that the column checks are stricter
about is accepted there too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from fastapi import Request
from pydantic import BaseModel, ValidationError

from features import MAX_COPAYMENT_NOK
from serving.json_body import read_json_body, read_json_value
from serving.schemas import MAX_LIST_PERSONS, ListIn
from serving.schemas.grants import ListHeaderIn

PERSON_FIELDS = ("age", "sex", "grunnkrets", "copayment_prev_year", "refugee_first_year")
PRACTICE_FACTS = ("form_of_practice", "list_cap", "agreement_start")
# The persons' columns in the order of PERSON_FIELDS.
PersonColumnLists = tuple[list[int], list[str], list[str], np.ndarray, list[bool]]
GRUNNKRETS_DIGITS = 8
MAX_AGE = 120


@dataclass(frozen=True)
class PostedList:
    """The list's own fields (those of ``ListIn`` but its persons) and its persons as columns."""

    practice_kommune: str
    model_version: int | str | None
    scheme_date: date | None
    practice_facts: dict[str, Any]  # form_of_practice, list_cap, agreement_start; None if unsaid
    age: list[int]
    sex: list[str]
    grunnkrets: list[str]
    copayment_prev_year: np.ndarray
    refugee_first_year: list[bool]

    @classmethod
    def of(cls, header: BaseModel, columns: PersonColumnLists) -> PostedList:
        """From the list's fields, validated by ``ListIn`` or ``ListHeaderIn``, and its columns."""
        fields = header.model_dump(exclude={"persons"})
        return cls(
            fields["practice_kommune"],
            fields["model_version"],
            fields["scheme_date"],
            {fact: fields[fact] for fact in PRACTICE_FACTS},
            *columns,
        )

    def __len__(self) -> int:
        return len(self.age)


async def read_posted_list(request: Request) -> PostedList:
    """The body of ``POST /v1/grants/list``; an invalid body raises FastAPI's validation error
    with the errors of ``ListIn``."""
    document = await read_json_value(request)
    plainly_valid = plainly_valid_list(document)
    if plainly_valid is not None:
        return plainly_valid
    body = await read_json_body(request, ListIn)
    age, sex, grunnkrets, copayment, refugee = _columns(body.persons)
    return PostedList.of(body, (age, sex, grunnkrets, np.array(copayment, np.float64), refugee))


def plainly_valid_list(document: Any) -> PostedList | None:
    """The list if every check passes a column at a time; None sends it to ``ListIn``."""
    if type(document) is not dict:
        return None
    persons = document.get("persons")
    if type(persons) is not list or not 1 <= len(persons) <= MAX_LIST_PERSONS:
        return None
    posted = _person_columns(persons)
    if posted is None:
        return None
    try:
        header = ListHeaderIn.model_validate({k: v for k, v in document.items() if k != "persons"})
    except ValidationError:
        return None
    return PostedList.of(header, posted)


def _columns(persons: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    return [[person[field] for person in persons] for field in PERSON_FIELDS]


def _person_columns(persons: list[Any]) -> PersonColumnLists | None:
    if set(map(type, persons)) != {dict} or set(map(len, persons)) != {len(PERSON_FIELDS)}:
        return None  # five keys each, and below each of the five is there: no extra key
    try:
        age, sex, grunnkrets, copayment, refugee = _columns(persons)
    except KeyError:
        return None
    if set(map(type, age)) != {int} or min(age) < 0 or max(age) > MAX_AGE:
        return None  # type() is exact: a bool is not an age
    if set(map(type, sex)) != {str} or not set(sex) <= {"F", "M"}:
        return None
    if set(map(type, grunnkrets)) != {str} or set(map(len, grunnkrets)) != {GRUNNKRETS_DIGITS}:
        return None
    digits = "".join(grunnkrets)
    if not (digits.isascii() and digits.isdigit()):
        return None
    if not set(map(type, copayment)) <= {float, int}:
        return None
    try:
        copayments = np.array(copayment, dtype=np.float64)
    except OverflowError:
        return None  # an integer beyond any float
    if not (np.isfinite(copayments).all() and copayments.min() >= 0):
        return None
    if copayments.max() > MAX_COPAYMENT_NOK or set(map(type, refugee)) != {bool}:
        return None
    return age, sex, grunnkrets, copayments, refugee


__all__ = ["PostedList", "plainly_valid_list", "read_posted_list"]
