"""``ptb audit``: check the service's audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from features import AuditChainError, AuditLogError, Settings
from ptb.errors import fail

audit_app = typer.Typer(
    help="The service's audit log, chained and sealed with the audit key.", no_args_is_help=True
)
console = Console(soft_wrap=True)


KeyFileOption = Annotated[
    Path | None,
    typer.Option("--key-file", help="the audit key (default: PTB_AUDIT_KEY_FILE)"),
]


NEEDS_KEY = "the audit chain is keyed: give the audit key with --key-file or PTB_AUDIT_KEY_FILE"


def _audit_key(key_file: Path | None) -> bytes | None:
    """The audit key from ``--key-file`` or the settings; None if neither names one."""
    from serving.access.audit import read_request_key

    key_path = key_file or Settings().audit_key_file
    if key_path is None:
        return None
    try:
        return read_request_key(key_path)
    except AuditLogError as exc:
        fail(str(exc), exc)


@audit_app.command("verify")
def verify(
    file: Annotated[
        Path | None, typer.Option("--file", help="the audit log (default: PTB_AUDIT_LOG)")
    ] = None,
    key_file: KeyFileOption = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="a head checkpoint the log must still hold"),
    ] = None,
    unkeyed: Annotated[
        bool, typer.Option("--unkeyed", help="verify a development log written without a key")
    ] = False,
) -> None:
    """Check every record's seal and link; exit 1 naming the first broken line."""
    from serving.access.audit_check import read_checkpoint
    from serving.access.audit_check import verify as verify_log

    path = file or Settings().audit_log
    key = _audit_key(key_file)
    if key is None and (checkpoint is not None or not unkeyed):
        fail(f"{NEEDS_KEY} (--unkeyed only for a development log written without one)")
    try:
        head = read_checkpoint(checkpoint, key) if checkpoint and key else None
        summary = verify_log(path, key, head)
    except AuditChainError as exc:
        fail(f"audit log broken: {exc}", exc)
    span = f", {summary.first_time} to {summary.last_time}" if summary.records else ""
    kind = "sealed with the audit key" if summary.keyed else "UNKEYED: anyone could rewrite it"
    console.print(
        f"[green]intact[/]: {summary.records:,} records in {path}{span} ({kind})", highlight=False
    )
    if head is not None:
        console.print(f"holds checkpoint record {head.seq} of {head.exported}", highlight=False)
    console.print(f"head: {summary.head}", highlight=False)


@audit_app.command("checkpoint")
def checkpoint(
    out: Annotated[Path, typer.Option("--out", help="the checkpoint file to create")],
    file: Annotated[
        Path | None, typer.Option("--file", help="the audit log (default: PTB_AUDIT_LOG)")
    ] = None,
    key_file: KeyFileOption = None,
) -> None:
    """Verify the log and export its head, sealed with the key, for safekeeping elsewhere."""
    from serving.access.audit_check import export_checkpoint

    path = file or Settings().audit_log
    key = _audit_key(key_file)
    if key is None:
        fail(NEEDS_KEY)
    try:
        head = export_checkpoint(path, key, out)
    except AuditChainError as exc:
        fail(f"audit log broken: {exc}", exc)
    except FileExistsError:
        fail(f"{out} exists already; a checkpoint is never overwritten")
    console.print(
        f"checkpoint {out}: record {head.seq} of {path}, head {head.head}; keep it apart from "
        "the log and check it later with `ptb audit verify --checkpoint`",
        highlight=False,
    )


@audit_app.command("new-key")
def new_key(
    out: Annotated[Path, typer.Option("--out", help="the key file to create (mode 0600)")],
) -> None:
    """Create the audit key that keys request digests (PTB_AUDIT_KEY_FILE); never overwrites."""
    from serving.access.audit import write_request_key

    try:
        path = write_request_key(out)
    except AuditLogError as exc:
        fail(str(exc), exc)
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
    key_file: KeyFileOption = None,
) -> None:
    """Print the digest a request was logged under, to match it with an audit record."""
    from serving.access.audit import digest_field, read_request_key, request_digest

    key_path = key_file or Settings().audit_key_file
    try:
        key = read_request_key(key_path) if key_path is not None else None
        content = body.read_bytes() if body is not None else b""
    except (AuditLogError, OSError) as exc:
        fail(str(exc), exc)
    found = request_digest(method.upper(), path, query.encode(), content, key=key)
    console.print(f"{digest_field(key)}: {found.hexdigest()}", highlight=False)
