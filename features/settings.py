"""The one settings object: built once at the edge (CLI, app factory), passed down as values."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEVELOPMENT = "development"
# Values a template or a hurried deployment leaves in place of a real one.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "change_me", "placeholder", "todo", "xxx"})


class Settings(BaseSettings):
    """Deployment settings read from ``PTB_*`` environment variables.

    The MLflow tracking URI follows MLflow's own ``MLFLOW_TRACKING_URI`` when that is set.
    ``environment`` is ``development`` on a developer's machine and anything else (``test``,
    ``staging``, ``production``) where the service must not run open: there it refuses to start
    without an API keys file (``serving.app.create_app``), and a placeholder path is refused here.
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
    reference: str | None = None  # PTB_REFERENCE: release name or directory when no snapshot
    model_cache_dir: str | None = "mlruns/serving-cache"  # bundles kept for offline restarts
    environment: str = DEVELOPMENT
    apis: Literal["all", "payment", "policy"] = "all"  # PTB_APIS: what this instance answers

    # -- access, audit, operations (docs/security.md) --------------------------------------------
    api_keys_file: Path | None = None  # PTB_API_KEYS_FILE: hashed API keys (JSON or YAML)
    audit_log: Path = Path("var/audit/audit.jsonl")  # PTB_AUDIT_LOG: append-only, hash-chained
    audit_key_file: Path | None = None  # PTB_AUDIT_KEY_FILE: keys request digests; needed in prod
    audit_fsync: bool = False  # PTB_AUDIT_FSYNC: each record on disk before the answer
    metrics_public: bool = True  # PTB_METRICS_PUBLIC=false puts /metrics behind an admin key
    log_format: str = Field("json", pattern="^(json|text)$")  # one JSON object per line
    log_level: str = "INFO"
    model_watch_seconds: float = Field(0.0, ge=0)  # re-resolve the serving alias; 0: never
    startup_retry_seconds: float = Field(10.0, ge=0)  # retry a start-up the registry failed
    registry_retry_seconds: float = Field(15.0, ge=0)  # after a registry failure, use the cache

    @field_validator("environment")
    @classmethod
    def _environment_name(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def is_development(self) -> bool:
        return self.environment == DEVELOPMENT

    @model_validator(mode="after")
    def _no_placeholder_keys_outside_development(self) -> Settings:
        keys = self.api_keys_file
        if not self.is_development and keys is not None:
            text = str(keys).strip()
            if (
                text in (".", "/")
                or text.lower() in PLACEHOLDERS
                or keys.stem.lower() in PLACEHOLDERS
            ):
                raise ValueError(
                    f"PTB_API_KEYS_FILE={text!r} is a placeholder; outside development "
                    f"(PTB_ENVIRONMENT={self.environment}) it must name the real keys file"
                )
        return self
