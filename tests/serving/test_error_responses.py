"""The one mapping of product errors to HTTP answers: status, error kind, field, rules, headers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from features import (
    AuditLogError,
    AuthenticationError,
    BodyTooLargeError,
    BundleError,
    ContractError,
    ModelNotFoundError,
    PermissionDeniedError,
    PromotionRefused,
    RegistryUnavailableError,
    ReloadInProgressError,
    ReloadRefused,
    ServiceNotReadyError,
    SnapshotMissingError,
    TooManyKeyChecksError,
    UnknownCodeError,
    UnknownQueryError,
    Violation,
)
from serving.error_responses import error_response
from serving.reload import Check
from serving.schemas import ErrorBody
from serving.schemas.errors import ErrorKind
from serving.whatif import parse_scenario


def answer(exc) -> tuple[int, dict, dict]:
    response = error_response(exc)
    body = json.loads(response.body)
    ErrorBody.model_validate(body)  # every answer keeps to the declared body
    return response.status_code, body, dict(response.headers)


def test_an_unknown_code_names_the_field_and_the_codes():
    status, body, _ = answer(UnknownCodeError("grunnkrets", ["99999999"], "grunnkrets"))
    assert status == 422
    assert body == {
        "error": "unknown_code",
        "message": "grunnkrets: unknown grunnkrets 99999999",
        "field": "grunnkrets",
        "codes": ["99999999"],
    }


@pytest.mark.parametrize("field", ["model_version", "baseline", "phase_in.from_version"])
def test_an_unknown_model_points_at_the_field_that_named_it(field):
    missing = ModelNotFoundError("9", ["1", "2"]).for_field(field)
    status, body, _ = answer(missing)
    assert status == 404
    assert body["error"] == "model_not_found"
    assert body["field"] == field
    assert body["available_versions"] == ["1", "2"]


def test_no_snapshot_and_an_unknown_list_are_two_kinds():
    status, body, _ = answer(SnapshotMissingError("this service runs without a snapshot"))
    assert (status, body["error"], body.get("field")) == (404, "no_snapshot", None)
    status, body, _ = answer(SnapshotMissingError("list 'X' is not in the snapshot", "X"))
    assert (status, body["error"], body["field"]) == (404, "not_found", "list_id")


def test_a_scenario_lists_every_problem_with_one_rule_name():
    with pytest.raises(Exception) as refused:
        parse_scenario({"dampening": 2, "colour": "red"})
    status, body, _ = answer(refused.value)
    assert status == 422
    assert body["error"] == "invalid_scenario"
    assert body["field"] == "dampening"
    assert {detail["rule"] for detail in body["details"]} == {"invalid_scenario"}
    assert [detail["field"] for detail in body["details"]] == ["dampening", "colour"]


def test_access_refusals_are_401_with_a_challenge_and_403():
    status, body, headers = answer(AuthenticationError("missing", "an API key is required"))
    assert (status, body["error"]) == (401, "unauthorized")
    assert headers["www-authenticate"] == 'Bearer realm="ptb"'
    status, body, _ = answer(PermissionDeniedError("ops", "payment", "admin"))
    assert (status, body["error"]) == (403, "forbidden")


def test_a_refused_reload_lists_the_failed_checks():
    checks = [Check("checksums", True, "ok"), Check("smoke_score", False, "NaN weights")]
    status, body, _ = answer(ReloadRefused("7", "version 7 failed smoke_score", checks))
    assert (status, body["error"], body["field"]) == (422, "reload_refused", "model")
    assert body["details"] == [{"field": "model", "rule": "smoke_score", "message": "NaN weights"}]
    status, body, _ = answer(ReloadInProgressError("7"))
    assert (status, body["error"]) == (409, "reload_in_progress")


@pytest.mark.parametrize(
    "exc",
    [
        ServiceNotReadyError("the serving model is still loading"),
        RegistryUnavailableError("model registry unreachable"),
        BundleError("model bundle: weight_table.csv is missing or corrupted"),
        AuditLogError("disk full"),
    ],
)
def test_what_should_pass_soon_is_503_with_retry_after(exc):
    status, body, headers = answer(exc)
    assert (status, body["error"]) == (503, "unavailable")
    assert headers["retry-after"] == "5"


def test_an_audit_failure_tells_the_caller_nothing_of_its_cause():
    _, body, _ = answer(AuditLogError("/var/log/ptb/audit.jsonl: No space left on device"))
    assert "audit.jsonl" not in body["message"] and "No space" not in body["message"]


def test_too_many_key_checks_is_429_with_retry_after():
    status, body, headers = answer(
        TooManyKeyChecksError("too_many_failures", "wait", retry_after=42)
    )
    assert (status, body["error"]) == (429, "too_many_requests")
    assert headers["retry-after"] == "42"


def test_a_body_over_its_limit_is_413_too_large():
    status, body, _ = answer(BodyTooLargeError("POST", "/v1/grants/list", "at most 10 bytes"))
    assert (status, body["error"], body["field"]) == (413, "too_large", "body")
    assert "at most 10 bytes" in body["message"]


def test_unknown_query_parameters_are_a_validation_error():
    status, body, _ = answer(UnknownQueryError(["modle_version"], ["model_version"]))
    assert (status, body["error"], body["field"]) == (422, "validation_error", "modle_version")
    assert body["details"][0]["rule"] == "unknown_parameter"


def test_a_contract_violation_names_table_column_and_rule():
    status, body, _ = answer(ContractError([Violation("persons", "age", "out of range", 2)]))
    assert (status, body["error"]) == (422, "contract_violation")
    assert body["details"][0]["field"] == "persons.age"
    assert body["details"][0]["rule"] == "out of range"


def test_any_other_product_error_is_an_invalid_request():
    status, body, _ = answer(PromotionRefused("3", ["worse than the champion"]))
    assert (status, body["error"]) == (422, "invalid_request")
    assert "worse than the champion" in body["message"]


def test_every_error_kind_is_documented_and_every_documented_kind_exists():
    text = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"^\| (?:\d{3}|other) \| `([a-z_]+)` \|", text, re.M))
    assert documented == set(get_args(ErrorKind))
