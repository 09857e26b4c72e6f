"""``ptb audit``: check the service's audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from features import AuditChainError, AuditLogError, Settings

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
    from serving.access.audit import verify as verify_log

    path = file or Settings().audit_log
    try:
        summary = verify_log(path)
    except AuditChainError as exc:
        errors.print(f"[bold red]error:[/] audit log broken: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    span = f", {summary.first_time} to {summary.last_time}" if summary.records else ""
    console.print(f"[green]intact[/]: {summary.records:,} records in {path}{span}", highlight=False)
    console.print(f"head: {summary.head}", highlight=False)


@audit_app.command("new-key")
def new_key(
    out: Annotated[Path, typer.Option("--out", help="the key file to create (mode 0600)")],
) -> None:
    """Create the audit key that keys request digests (PTB_AUDIT_KEY_FILE); never overwrites."""
    from serving.access.audit import write_request_key

    try:
        path = write_request_key(out)
    except AuditLogError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"created {path}: set PTB_AUDIT_KEY_FILE={path} for the service and keep a copy "
        "with the auditors; without it, logged requests cannot be matched",
        highlight=False,
    )


@audit_app.command("digest")
def digest(
    method: Annotated[str, typer.Option("--method", help="e.g. POST")],
    path: Annotated[str, typer.Option("--path", help="the raw path, e.g. /v1/grants/person")],
    body: Annotated[
        Path | None, typer.Option("--body", help="file with the request body, byte for byte")
    ] = None,
    query: Annotated[str, typer.Option("--query", help="the raw query string, without ?")] = "",
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="the audit key (default: PTB_AUDIT_KEY_FILE)"),
    ] = None,
) -> None:
    """Print the digest a request was logged under, to match it with an audit record."""
    from serving.access.audit import digest_field, read_request_key, request_digest

    key_path = key_file or Settings().audit_key_file
    try:
        key = read_request_key(key_path) if key_path is not None else None
        content = body.read_bytes() if body is not None else b""
    except (AuditLogError, OSError) as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    found = request_digest(method.upper(), path, query.encode(), content, key=key)
    console.print(f"{digest_field(key)}: {found.hexdigest()}", highlight=False)
