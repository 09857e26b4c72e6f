"""The one settings object: ``PTB_*`` variables, MLflow's own URI, and what production refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from features import DEVELOPMENT, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "PTB_TRACKING_URI", "PTB_ENVIRONMENT", "PTB_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_a_development_machine():
    settings = Settings()
    assert settings.environment == DEVELOPMENT and settings.is_development
    assert settings.serving_alias == "champion"
    assert settings.api_keys_file is None


def test_ptb_variables_set_the_fields(monkeypatch):
    monkeypatch.setenv("PTB_APIS", "payment")
    monkeypatch.setenv("PTB_MODEL_WATCH_SECONDS", "30")
    monkeypatch.setenv("PTB_ENVIRONMENT", " Production ")
    settings = Settings()
    assert settings.apis == "payment"
    assert settings.model_watch_seconds == 30.0
    assert settings.environment == "production" and not settings.is_development


def test_mlflow_tracking_uri_wins_over_the_ptb_name(monkeypatch):
    monkeypatch.setenv("PTB_TRACKING_URI", "http://ptb:5000")
    assert Settings().tracking_uri == "http://ptb:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert Settings().tracking_uri == "http://mlflow:5000"


@pytest.mark.parametrize(
    ("name", "value"),
    [("PTB_APIS", "everything"), ("PTB_LOG_FORMAT", "xml"), ("PTB_STARTUP_RETRY_SECONDS", "-1")],
)
def test_a_bad_value_is_refused_naming_the_field(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    field = name.removeprefix("PTB_").lower()
    with pytest.raises(ValidationError, match=field):
        Settings()


@pytest.mark.parametrize("placeholder", ["changeme", "", "/etc/ptb/TODO.json", "."])
def test_a_placeholder_keys_file_is_refused_outside_development(monkeypatch, placeholder):
    monkeypatch.setenv("PTB_ENVIRONMENT", "production")
    monkeypatch.setenv("PTB_API_KEYS_FILE", placeholder)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
    monkeypatch.setenv("PTB_ENVIRONMENT", "development")
    assert Settings().api_keys_file is not None
