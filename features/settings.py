"""The one settings object: built once at the edge (CLI, app factory), passed down as values."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"


class Settings(BaseSettings):
    """Deployment settings read from ``PTB_*`` environment variables.

    The MLflow tracking URI follows MLflow's own ``MLFLOW_TRACKING_URI`` when that is set.
    """

    model_config = SettingsConfigDict(env_prefix="PTB_", extra="ignore")

    tracking_uri: str = Field(
        DEFAULT_TRACKING_URI,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "PTB_TRACKING_URI"),
    )
    artifact_root: str = "mlruns/artifacts"
    registered_model: str = "ptb"
    experiment: str = "ptb"
    serving_alias: str = "champion"
    model: str | None = None  # PTB_MODEL: alias or version to serve (default serving_alias)
    data_dir: str | None = None  # PTB_DATA_DIR: registry snapshot for list look-ups, what-if
    model_cache_dir: str | None = "mlruns/serving-cache"  # bundles kept for offline restarts
    environment: str = "development"
