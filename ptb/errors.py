"""How the command line reports what went wrong: ``error: ...`` on stderr and an exit code.

Every command runs under ``reports_errors``: the product's errors (``features.PtbError``) and a
failing MLflow tracking store are one plain line and exit 1; an interrupted training exits 130,
as a shell expects of SIGINT. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn

import typer
from rich.console import Console

from features import PtbError, Settings

errors = Console(stderr=True, soft_wrap=True)
INTERRUPTED_EXIT = 130


def fail(message: str, cause: BaseException | None = None, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr, as text (never markup), and exit with ``code``."""
    errors.print("[bold red]error:[/] ", end="")
    errors.print(message, highlight=False, markup=False)
    raise typer.Exit(code) from cause


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command``, reporting the product's errors plainly (see the module doc)."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PtbError as exc:
            fail(str(exc), exc)
        except KeyboardInterrupt as exc:
            # Imported only here: training imports MLflow, which a command may not need.
            from training.interrupt import TrainingInterrupted, end_process_within_grace

            if isinstance(exc, TrainingInterrupted):
                end_process_within_grace(INTERRUPTED_EXIT)
                fail(str(exc), exc, INTERRUPTED_EXIT)
            raise
        except Exception as exc:
            # Imported here, not first: MLflow warns on import, before `ptb serve` set up its logs.
            from mlflow.exceptions import MlflowException

            if not isinstance(exc, MlflowException):
                raise
            fail(f"MLflow tracking store {Settings().tracking_uri} failed: {exc.message}", exc)

    return run


def registry_command(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command that talks to the registry: its calls fail within seconds, not minutes
    (``training.registry.bounded_registry_calls``); errors as ``reports_errors``."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from training.registry import bounded_registry_calls

        bounded_registry_calls()
        return command(*args, **kwargs)

    return reports_errors(run)
