"""The uvicorn factory of a worker process: JSON logging first, then the service.

``uvicorn serving.worker:create_app_from_env --factory`` (``ptb serve --workers N`` uses it).
Importing the service loads MLflow, which warns on import; configuring the logs before that
import makes every line the worker writes one JSON object, those warnings included.
"""

from __future__ import annotations

import warnings

# pandera imports PySpark, which warns about pandas 3 on import (see ptb/__init__.py).
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support", category=FutureWarning
)

from fastapi import FastAPI  # noqa: E402 - after the filter, on purpose

from features.settings import Settings  # noqa: E402
from serving.observability import configure_logging  # noqa: E402


def create_app_from_env() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    from serving.app import create_app_from_settings  # noqa: PLC0415 - after the logs, on purpose

    return create_app_from_settings(settings)
