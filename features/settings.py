"""The one settings object: built once at the edge (CLI, app factory), passed down as values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEVELOPMENT = "development"
# Values a template or a hurried deployment leaves in place of a real one.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "change_me", "placeholder", "todo", "xxx"})


# Read from the environment by the libraries ptb runs on, not by Settings; documented with it.
LIBRARY_VARIABLES: dict[str, tuple[str, str]] = {  # name -> (default, what it does)
    "PROMETHEUS_MULTIPROC_DIR": (
        "a temporary folder (`ptb serve --workers N`)",
        "where the workers of one instance share their metrics; `ptb serve` empties it and "
        "refuses one another running instance holds",
    ),
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": (
        "2 in the service, 7 elsewhere",
        "retries of a registry call",
    ),
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": (
        "1 in the service, 2 elsewhere",
        "back-off between them",
    ),
    "MLFLOW_HTTP_REQUEST_TIMEOUT": (
        "10 in the service, 120 elsewhere",
        "seconds per registry call",
    ),
}


def default_model_cache_dir() -> str:
    """An absolute cache directory whatever the working directory: the service may start in /."""
    systemd = os.environ.get("CACHE_DIRECTORY")  # set by a unit's CacheDirectory=
    if systemd:
        return str(Path(systemd.split(":")[0]) / "models")
    if os.geteuid() == 0:
        return "/var/cache/ptb/models"
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(home).absolute() / "ptb" / "models")


class Settings(BaseSettings):
    """Deployment settings read from ``PTB_*`` environment variables.

    The MLflow tracking URI follows MLflow's own ``MLFLOW_TRACKING_URI`` when that is set.
    ``environment`` is ``development`` on a developer's machine and anything else (``test``,
    ``staging``, ``production``) where the service must not run open: there it refuses to start
    without an API keys file (``serving.app.create_app``), and a placeholder path is refused here.
    """

    model_config = SettingsConfigDict(env_prefix="PTB_", extra="ignore")

    tracking_uri: str = Field(
        default=DEFAULT_TRACKING_URI,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "PTB_TRACKING_URI"),
        description="the MLflow tracking server (`http://…`) for training, registry and "
        "serving; `MLFLOW_TRACKING_URI` wins when both are set",
    )
    artifact_root: str = Field(
        default="mlruns/artifacts",
        description="artifact root of a local (non-server) store; a tracking server's own "
        "`--artifacts-destination` applies otherwise",
    )
    registered_model: str = Field(
        default="ptb", description="the registered model's name in MLflow"
    )
    experiment: str = Field(default="ptb", description="the MLflow experiment trainings log to")
    serving_alias: str = Field(
        default="champion", description="the alias the service serves by default"
    )
    model: str | None = Field(
        default=None, description="alias or version to serve instead of the serving alias"
    )
    data_dir: str | None = Field(
        default=None,
        description="registry snapshot (data contract) for list look-ups and what-if; "
        "without it only person grants are answered",
    )
    reference: str | None = Field(
        default=None,
        description="the reference release to price with when there is no snapshot: a shipped "
        "release's name (`2024`) or a release directory; default the shipped release. With a "
        "snapshot its own `kommuner` and `grunnkretser` are the release",
    )
    model_cache_dir: str | None = Field(
        default_factory=default_model_cache_dir,
        description="verified bundles kept for restarts while MLflow is down; default "
        "`$CACHE_DIRECTORY/models` under systemd, `/var/cache/ptb/models` as root, else "
        "`~/.cache/ptb/models`. Must be writable by the service (`/readyz` fails otherwise)",
    )
    environment: str = Field(
        default=DEVELOPMENT,
        description="`development`, or anything else (`production`), where keys, an audit "
        "log and an audit key are required",
    )
    apis: Literal["all", "payment", "policy"] = Field(
        default="all", description="what the instance answers: `payment`, `policy` or `all`"
    )

    instance_dir: Path | None = Field(
        default=None,
        description="shared by the workers of one instance so they serve one model and switch "
        "together; `ptb serve --workers N` makes a fresh one (set it, empty and of its own, "
        "when running `uvicorn --workers N` yourself)",
    )

    instance_workers: int = Field(
        default=0,
        ge=0,
        description="worker processes in the instance: `/readyz` answers 503 until every one has "
        "loaded (`ptb serve --workers N` sets it; 0 checks only the workers that have started)",
    )

    whatif_process: bool = Field(
        default=False,
        description="price what-ifs in a child process of each worker, niced, so they never "
        "delay a grant in an instance that serves both audiences (a second copy of the snapshot "
        "in memory per worker)",
    )

    # -- access, audit, operations (docs/security.md) --------------------------------------------
    api_keys_file: Path | None = Field(
        default=None,
        description="hashed API keys (JSON or YAML); re-read within a second of a change",
    )
    service_user: str | None = Field(
        default=None,
        description="the account the service runs as: `ptb keys` refuses to write a keys "
        "file it could not read",
    )
    audit_log: Path = Field(
        default=Path("var/audit/audit.jsonl"),
        description="append-only, hash-chained audit log (relative to the working "
        "directory: give an absolute path in production)",
    )
    audit_key_file: Path | None = Field(
        default=None, description="32-byte key of the request digests (`ptb audit new-key`)"
    )
    audit_fsync: bool = Field(
        default=False, description="each audit record on disk before the answer"
    )
    metrics_public: bool = Field(default=True, description="`false`: `/metrics` needs an admin key")
    log_format: str = Field(
        default="json",
        pattern="^(json|text)$",
        description="`json` (one object per line) or `text`",
    )
    log_level: str = Field(default="INFO", description="`DEBUG`, `INFO`, `WARNING` or `ERROR`")
    model_watch_seconds: float = Field(
        default=0.0, ge=0, description="re-resolve the serving alias this often; 0: never"
    )
    startup_retry_seconds: float = Field(
        default=10.0, ge=0, description="retry a start-up that the registry failed after this long"
    )
    registry_retry_seconds: float = Field(
        default=15.0,
        ge=0,
        description="after a registry failure, serve from memory and cache this long",
    )
    body_limits: dict[str, int] = Field(
        default_factory=dict,
        description="most bytes a request body may hold, per path, as JSON, e.g. "
        '`{"/v1/grants/list": 8388608}`; the defaults are in docs/security.md',
    )

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
