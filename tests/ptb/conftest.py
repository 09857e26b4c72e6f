"""What the ``ptb`` command tests share: the command, run on temporary files."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from ptb.audit import audit_app
from ptb.keys import keys_app


def ptb_app() -> typer.Typer:
    """The ``ptb`` command if it has the sub-commands yet, else them mounted as it will."""
    from ptb.cli import app

    if {"keys", "audit"} <= {group.name for group in app.registered_groups}:
        return app
    composed = typer.Typer()
    composed.command("version")(lambda: None)  # a second command keeps the groups named
    composed.add_typer(keys_app, name="keys")
    composed.add_typer(audit_app, name="audit")
    return composed


@pytest.fixture
def ptb(monkeypatch):
    for name in ("PTB_API_KEYS_FILE", "PTB_AUDIT_LOG", "PTB_AUDIT_KEY_FILE", "PTB_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    app = ptb_app()
    return lambda *args: runner.invoke(app, list(args))
