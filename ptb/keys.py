"""``ptb keys``: create, list and revoke the service's API keys (hashed at rest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from features import KeyFileError, Settings
from ptb.accounts import unreadable_by
from ptb.errors import errors, fail

keys_app = typer.Typer(
    help="API keys of the service: each has an id and a role (payment, policy, admin).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)

FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="the keys file, JSON or YAML (default: PTB_API_KEYS_FILE)"),
]


ServiceUserOption = Annotated[
    str | None,
    typer.Option(
        "--service-user",
        help="the account the service runs as; refuse to write a file it could not read "
        "(default: PTB_SERVICE_USER)",
    ),
]


def _key_file(file: Path | None) -> Path:
    found = file or Settings().api_keys_file
    if found is None:
        fail("no keys file: pass --file PATH or set PTB_API_KEYS_FILE")
    return found


def _service_can_read(path: Path, service_user: str | None) -> None:
    """Refuse, before anything is written, a keys file the service account could not read.

    The written file keeps the owner, group and mode of the one it replaces (a new one is the
    writer's, in the directory's group, 0640); this checks those against the account.
    """
    from serving.access import key_file_ownership

    account = service_user or Settings().service_user
    if account is None:
        return
    problem = unreadable_by(account, path, key_file_ownership(path))
    if problem is not None:
        raise KeyFileError(str(path), [f"not written: {problem}"])


@keys_app.command("add")
def add(
    key_id: Annotated[
        str, typer.Option("--id", help="who holds the key, e.g. settlement-batch (a-z, 0-9, -)")
    ],
    role: Annotated[str, typer.Option("--role", help="payment, policy or admin")],
    file: FileOption = None,
    service_user: ServiceUserOption = None,
) -> None:
    """Create a key and print it once; only its scrypt hash is stored."""
    from serving.access import add_key

    path = _key_file(file)
    try:
        _service_can_read(path, service_user)
        key = add_key(path, key_id, role)
    except KeyFileError as exc:
        fail(str(exc), exc)
    errors.print(
        f"added key {key_id!r} (role {role}) to {path}. It is shown this once; store it now:",
        highlight=False,
    )
    print(key)  # stdout alone, for a script to capture


@keys_app.command("list")
def list_keys(file: FileOption = None) -> None:
    """The keys' ids, roles and dates; never a key or a hash."""
    from serving.access import read_key_file

    path = _key_file(file)
    try:
        records = read_key_file(path)
    except KeyFileError as exc:
        fail(str(exc), exc)
    table = Table("id", "role", "created", "revoked", title=str(path))
    for record in records:
        table.add_row(record.key_id, record.role, record.created, record.revoked or "")
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the id of the key to revoke")],
    file: FileOption = None,
    service_user: ServiceUserOption = None,
) -> None:
    """Revoke a key; a running service refuses it within a second."""
    from serving.access import revoke_key

    path = _key_file(file)
    try:
        _service_can_read(path, service_user)
        record = revoke_key(path, key_id)
    except KeyFileError as exc:
        fail(str(exc), exc)
    console.print(f"revoked key {record.key_id!r} (role {record.role}) at {record.revoked}")
