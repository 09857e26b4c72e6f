"""``python -m ptb``: the same command as the ``ptb`` console script."""

from ptb.cli import app

app()
