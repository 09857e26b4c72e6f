"""Scenario fields: what is accepted, and that every refusal names the field and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from features.errors import ScenarioError
from serving.whatif import PhaseIn, Scenario, load_scenario, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "scenarios"


def test_an_empty_scenario_changes_nothing_and_keeps_the_budget():
    scenario = parse_scenario({})
    assert scenario.changed_fields() == {}
    assert scenario.budget_neutral is True


def test_fields_are_read_with_their_types():
    scenario = parse_scenario(
        {
            "title": "strengthened centrality",
            "dampening": 0,
            "centrality_supplement_nok": {"5": 500, 6: 1000},
            "phase_in": {"from_version": "model0_2023", "share": 0.5},
            "floor_persons": 500,
            "break_point_persons": 1500,
            "break_point_rate_share": 0.6,
        }
    )
    assert scenario.centrality_supplement_nok == {5: 500.0, 6: 1000.0}
    assert scenario.phase_in == PhaseIn(from_version="model0_2023", share=0.5)
    assert "title" not in scenario.changed_fields()
    assert scenario.changed_fields()["floor_persons"] == 500


def test_a_scenario_cannot_be_changed_after_it_is_made():
    scenario = Scenario(dampening=0.5)
    with pytest.raises(ValidationError):
        scenario.dampening = 0.2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"colour": "red"}, r"colour: unknown field \(known fields: title, description, damp"),
        ({"phase_in": {"from_version": "a", "share": 1, "x": 2}}, r"phase_in\.x: unknown field"),
        ({"dampening": 1.5}, "dampening: must be between 0 and 1"),
        ({"dampening": -0.1}, "dampening: must be between 0 and 1"),
        ({"dampening": "half"}, "dampening: must be a number"),
        ({"education_threshold": 2}, "education_threshold: must be between 0 and 1"),
        ({"budget_nok": -1}, "budget_nok: must be between 0 and 1e\\+12"),
        ({"refugee_rate_nok": -300}, "refugee_rate_nok: must be between 0 and 1e\\+06"),
        ({"centrality_scale": -1}, "centrality_scale: must be between 0 and 100"),
        ({"centrality_scale": 5.7e306}, "centrality_scale: must be between 0 and 100"),
        ({"education_effect_scale": 1e300}, "education_effect_scale: must be between 0 and 100"),
        ({"education_effect_nok": 1e20}, "education_effect_nok: must be between 0 and 1e\\+06"),
        ({"break_point_persons": 10**12}, "break_point_persons: must be between 1 and 1e\\+06"),
        (
            {"phase_in": {"from_version": "model0_2023", "share": 1.2}},
            r"phase_in\.share: must be between 0 and 1",
        ),
        ({"phase_in": {"share": 0.5}}, r"phase_in\.from_version: is required"),
        ({"phase_in": 0.5}, "phase_in: must be a mapping"),
        ({"floor_persons": 0}, "floor_persons: must be between 1 and 1e\\+06"),
        ({"floor_persons": 500.5}, "floor_persons: must be a whole number"),
        (
            {"centrality_supplement_nok": {7: 100}},
            r"centrality_supplement_nok\[7\]: centrality class must be between 2 and 6",
        ),
        (
            {"centrality_supplement_nok": {5: -100}},
            r"centrality_supplement_nok\[5\]: must be between 0 and 1e\+06",
        ),
        (
            {"break_point_persons": 1000, "break_point_rate_share": 1.5},
            "break_point_rate_share: must be between 0 and 1",
        ),
        ({"model_version": ""}, "model_version: must not be empty"),
        ({"budget_neutral": "maybe"}, "budget_neutral: must be true or false"),
    ],
)
def test_a_field_out_of_bounds_is_refused_with_its_name(fields, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"centrality_scale": 2, "centrality_supplement_nok": {5: 500}},
            "centrality_supplement_nok: excludes centrality_scale",
        ),
        (
            {"education_effect_scale": 0.5, "education_effect_nok": 100},
            "education_effect_nok: excludes education_effect_scale",
        ),
        (
            {"budget_nok": 4.7e9, "budget_neutral": False},
            "budget_nok: excludes budget_neutral: false",
        ),
        ({"break_point_persons": 1000}, "break_point_rate_share: is required with the other"),
        ({"break_point_rate_share": 0.5}, "break_point_persons: is required with the other"),
        (
            {"floor_persons": 1200, "break_point_persons": 1000, "break_point_rate_share": 0.5},
            "floor_persons: must not exceed break_point_persons",
        ),
    ],
)
def test_fields_that_exclude_each_other_are_refused(fields, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(fields)


def test_fields_that_exclude_each_other_are_refused_when_built_directly():
    with pytest.raises(ValidationError, match="excludes centrality_scale"):
        Scenario(centrality_scale=2, centrality_supplement_nok={5: 500})


def test_every_problem_is_listed_at_once_with_the_first_field_on_the_error():
    with pytest.raises(ScenarioError, match="3 problems") as caught:
        parse_scenario(
            {
                "dampening": 3,
                "colour": "red",
                "centrality_scale": 1,
                "centrality_supplement_nok": {},
            }
        )
    message = str(caught.value)
    assert "dampening: must be between 0 and 1" in message
    assert "colour: unknown field" in message
    assert "centrality_supplement_nok: excludes centrality_scale" in message
    assert caught.value.field == "dampening"
    assert len(caught.value.problems) == 3


def test_a_scenario_that_is_not_a_mapping_is_refused():
    with pytest.raises(ScenarioError, match="must be a mapping of scenario fields, not list"):
        parse_scenario([0.5])


def test_load_scenario_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("dampening: 1.5\n")
    with pytest.raises(
        ScenarioError, match=r"bad\.yaml: dampening: must be between 0 and 1"
    ) as caught:
        load_scenario(path)
    assert caught.value.path == str(path)
    assert caught.value.field == "dampening"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dampening: [0.5\n", r"is not valid YAML at line 2"),
        ("", "is empty"),
        ("- 0.5\n", "must be a mapping of scenario fields"),
    ],
)
def test_load_scenario_refuses_a_malformed_file(tmp_path, text, message):
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_load_scenario_refuses_a_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot be read"):
        load_scenario(tmp_path / "missing.yaml")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_scenario_loads(path):
    scenario = load_scenario(path)
    assert scenario.title
