"""The ``ptb`` command (``ptb.cli.app``), the one place that sees features, training and
serving together; a command family per module (``keys``, ``audit``).
"""

from ptb.cli import app

__all__ = ["app"]
