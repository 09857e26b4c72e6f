"""The ``ptb`` command (``ptb.cli.app``), the one place that sees features, training and
serving together; a command family per module (``keys``, ``audit``).
"""

import warnings

# pandera imports PySpark, which warns about pandas 3 on import, before any log is set up; ptb
# never prices with Spark's pandas API. Kept out so every line `ptb serve` writes is JSON.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support", category=FutureWarning
)

from ptb.cli import app  # noqa: E402 - after the filter, on purpose

__all__ = ["app"]
