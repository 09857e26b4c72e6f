"""docs/operations.md's settings table is the settings object's: any drift fails here."""

from __future__ import annotations

from features.settings import LIBRARY_VARIABLES, Settings
from ptb.settings_doc import DOC, settings_table, variable_names, with_table


def test_the_runbook_table_is_generated_from_the_settings():
    document = DOC.read_text()
    assert with_table(document) == document, (
        "docs/operations.md's settings table differs from features/settings.py: "
        "run `python -m ptb.settings_doc`"
    )


def test_every_setting_and_variable_is_in_the_table_with_a_description():
    table = settings_table()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        for variable in variable_names(name, field):
            assert f"`{variable}`" in table
    for variable in (
        "PTB_DATA_DIR",
        "PTB_MODEL",
        "MLFLOW_TRACKING_URI",
        "PTB_TRACKING_URI",
        "PTB_MODEL_CACHE_DIR",
        *LIBRARY_VARIABLES,
    ):
        assert f"`{variable}`" in table


def test_a_setting_added_without_the_table_is_caught(monkeypatch):
    from pydantic import Field

    document = DOC.read_text()
    fields = dict(Settings.model_fields)
    fields["brand_new"] = Field(1, description="a new knob")  # type: ignore[assignment]
    monkeypatch.setattr(Settings, "model_fields", fields)
    assert "`PTB_BRAND_NEW`" in settings_table()
    assert with_table(document) != document
