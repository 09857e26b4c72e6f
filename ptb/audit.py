"""``ptb audit``: check the service's audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from features.errors import AuditChainError
from features.settings import Settings

audit_app = typer.Typer(help="The service's hash-chained audit log.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@audit_app.command("verify")
def verify(
    file: Annotated[
        Path | None, typer.Option("--file", help="the audit log (default: PTB_AUDIT_LOG)")
    ] = None,
) -> None:
    """Check every record's link to the one before; exit 1 naming the first broken line."""
    from serving.audit import verify as verify_log

    path = file or Settings().audit_log
    try:
        summary = verify_log(path)
    except AuditChainError as exc:
        errors.print(f"[bold red]error:[/] audit log broken: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    span = f", {summary.first_time} to {summary.last_time}" if summary.records else ""
    console.print(f"[green]intact[/]: {summary.records:,} records in {path}{span}", highlight=False)
    console.print(f"head: {summary.head}", highlight=False)
