"""A posted list read a column at a time: what it accepts, it reads exactly as ``ListIn`` does;
anything else goes to ``ListIn``, whose errors the client gets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features import MAX_COPAYMENT_NOK
from serving.posted_list import PERSON_FIELDS, PostedList, plainly_valid_list
from serving.schemas import MAX_LIST_PERSONS, ListIn

person = st.fixed_dictionaries(
    {
        "age": st.integers(0, 120),
        "sex": st.sampled_from(["F", "M"]),
        "grunnkrets": st.text("0123456789", min_size=8, max_size=8),
        "copayment_prev_year": st.one_of(
            st.integers(0, int(MAX_COPAYMENT_NOK)),
            st.floats(0, MAX_COPAYMENT_NOK, allow_nan=False, allow_infinity=False),
        ),
        "refugee_first_year": st.booleans(),
    }
)
list_fields = st.fixed_dictionaries(
    {"practice_kommune": st.text("0123456789", min_size=4, max_size=4)},
    optional={
        "model_version": st.one_of(st.none(), st.integers(1, 99), st.just("champion")),
        "scheme_date": st.sampled_from([None, "2026-06-30", "2026-07-01"]),
        "form_of_practice": st.sampled_from([None, "self_employed", "salaried"]),
        "list_cap": st.one_of(st.none(), st.integers(0, 100_000)),
        "agreement_start": st.sampled_from([None, "2025-03-01"]),
    },
)


def read_by_listin(document: dict) -> PostedList:
    body = ListIn.model_validate(document)
    columns = [[p[field] for p in body.persons] for field in PERSON_FIELDS]
    columns[3] = np.array(columns[3], dtype=np.float64)
    return PostedList.of(body, tuple(columns))  # type: ignore[arg-type]


def a_list(**changes: Any) -> dict:
    persons = [
        {
            "age": 40 + i,
            "sex": "F",
            "grunnkrets": "03010101",
            "copayment_prev_year": 150.0,
            "refugee_first_year": False,
        }
        for i in range(4)
    ]
    return {"practice_kommune": "0301", "persons": persons, **changes}


def with_person(**changes: Any) -> dict:
    document = a_list()
    document["persons"][2] = {**document["persons"][2], **changes}
    return document


@settings(max_examples=200, deadline=None)
@given(fields=list_fields, persons=st.lists(person, min_size=1, max_size=30))
def test_a_valid_list_reads_a_column_at_a_time_exactly_as_listin_reads_it(fields, persons):
    document = {**fields, "persons": persons}
    read = plainly_valid_list(document)
    assert read is not None
    expected = read_by_listin(document)
    assert read.copayment_prev_year.tolist() == expected.copayment_prev_year.tolist()
    assert vars(read) | {"copayment_prev_year": None} == vars(expected) | {
        "copayment_prev_year": None
    }


def without(field: str) -> dict:
    document = a_list()
    del document["persons"][1][field]
    return document


INVALID = {
    "an age that is a bool": with_person(age=True),
    "an age as a string": with_person(age="44"),
    "an age over 120": with_person(age=121),
    "a negative age": with_person(age=-1),
    "a sex that is neither": with_person(sex="X"),
    "a sex that is a number": with_person(sex=1),
    "a grunnkrets of 7 digits": with_person(grunnkrets="0301010"),
    "a grunnkrets as a number": with_person(grunnkrets=3010101),
    "a grunnkrets with a letter": with_person(grunnkrets="0301010A"),
    "a negative copayment": with_person(copayment_prev_year=-1.0),
    "a copayment over the bound": with_person(copayment_prev_year=MAX_COPAYMENT_NOK + 1),
    "a copayment beyond any float": with_person(copayment_prev_year=10**400),
    "an infinite copayment": with_person(copayment_prev_year=float("inf")),
    "a copayment that is a bool": with_person(copayment_prev_year=True),
    "a refugee flag as a number": with_person(refugee_first_year=1),
    "an unknown field": with_person(height=180),
    "a missing field": without("sex"),
    "a person that is a list": a_list(persons=[[40, "F", "03010101", 0.0, False]]),
    "no persons": a_list(persons=[]),
    "persons that are not a list": a_list(persons={"age": 40}),
    "too many persons": a_list(persons=a_list()["persons"][:1] * (MAX_LIST_PERSONS + 1)),
    "a kommune of 3 digits": a_list(practice_kommune="301"),
    "a misspelt list field": a_list(list_kap=1500),
    "a negative list cap": a_list(list_cap=-5),
}


@pytest.mark.parametrize("document", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_list_goes_to_listin_and_gets_its_errors(document):
    assert plainly_valid_list(document) is None
    with pytest.raises(ValidationError):
        ListIn.model_validate(document)


def test_a_list_only_listin_accepts_still_goes_to_listin():
    # Non-ASCII digits pass ListIn's pattern (Unicode \d) but not the column checks: the list is
    # read by ListIn, as before, and its scoring then refuses the unknown grunnkrets.
    document = with_person(grunnkrets="٠٣٠١٠١٠١")
    assert plainly_valid_list(document) is None
    assert read_by_listin(document).grunnkrets[2] == "٠٣٠١٠١٠١"


def test_a_body_that_is_not_an_object_goes_to_listin():
    for document in (None, [], "a list", 1):
        assert plainly_valid_list(document) is None
