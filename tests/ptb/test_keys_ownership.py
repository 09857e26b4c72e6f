"""``ptb keys`` run as root on a service's keys file: owner and mode kept, unreadable refused.

As root (CI) with a real non-root service account, whose reading is checked by reading the
file as that account; skipped elsewhere, since only root can make files for another account.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.access import KeyRing
from tests.mlflow_server import environment_without_settings
from tests.system_accounts import ensure_account, read_as

PTB = Path(sys.executable).parent / "ptb"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as others")


def ptb(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PTB), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment_without_settings(**env),
    )


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder anyone may enter (pytest's own are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="ptb-keys-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def service_dir(base: Path) -> tuple[str, Path]:
    """``/etc/ptb`` as the runbook sets it: root:SERVICE 0750."""
    account = ensure_account()
    assert account is not None
    etc = base / "etc-ptb"
    etc.mkdir()
    shutil.chown(etc, "root", account)
    etc.chmod(0o750)
    return account, etc


def ownership(path: Path) -> tuple[int, int, str]:
    found = path.stat()
    return found.st_uid, found.st_gid, oct(stat.S_IMODE(found.st_mode))


def test_a_new_keys_file_is_readable_by_the_service_group(service_dir):
    account, etc = service_dir
    keys = etc / "keys.json"
    added = ptb(
        "keys",
        "add",
        "--id",
        "batch",
        "--role",
        "payment",
        "--file",
        str(keys),
        "--service-user",
        account,
    )
    assert added.returncode == 0, added.stderr
    assert ownership(keys) == (0, grp.getgrnam(account).gr_gid, "0o640")
    assert read_as(account, keys).returncode == 0


@pytest.mark.parametrize("owner, mode", [("root", 0o640), ("service", 0o600)])
def test_revoke_as_root_keeps_owner_and_mode_so_the_service_still_reads(service_dir, owner, mode):
    account, etc = service_dir
    keys = etc / "keys.json"
    assert (
        ptb("keys", "add", "--id", "batch", "--role", "payment", "--file", str(keys)).returncode
        == 0
    )
    assert ptb("keys", "add", "--id", "ops", "--role", "admin", "--file", str(keys)).returncode == 0
    shutil.chown(keys, "root" if owner == "root" else account, account)
    keys.chmod(mode)
    before = ownership(keys)

    revoked = ptb("keys", "revoke", "batch", "--file", str(keys), PTB_SERVICE_USER=account)
    assert revoked.returncode == 0, revoked.stderr
    assert ownership(keys) == before
    seen = read_as(account, keys)
    assert seen.returncode == 0 and '"revoked": "20' in seen.stdout
    assert KeyRing.load(keys).key_ids == ["ops"]


def test_a_file_the_service_could_not_read_is_refused_and_left_alone(service_dir):
    account, etc = service_dir
    keys = etc / "keys.json"
    assert (
        ptb("keys", "add", "--id", "batch", "--role", "payment", "--file", str(keys)).returncode
        == 0
    )
    shutil.chown(keys, "root", "root")
    keys.chmod(0o600)  # what `ptb keys` run as root used to leave behind
    before = keys.read_bytes()

    for command in (("revoke", "batch"), ("add", "--id", "new", "--role", "policy")):
        refused = ptb("keys", *command, "--file", str(keys), "--service-user", account)
        assert refused.returncode == 1
        message = " ".join(refused.stderr.split())
        assert f"service account '{account}' could not read it (root:root 0600)" in message
        assert "not written" in message
        assert keys.read_bytes() == before


def test_a_directory_the_service_cannot_enter_is_named(service_dir, base):
    account, _ = service_dir
    closed = base / "closed"
    closed.mkdir(mode=0o700)
    refused = ptb(
        "keys",
        "add",
        "--id",
        "batch",
        "--role",
        "payment",
        "--file",
        str(closed / "keys.json"),
        "--service-user",
        account,
    )
    assert refused.returncode == 1
    assert f"cannot enter {closed}" in " ".join(refused.stderr.split())
    assert not (closed / "keys.json").exists()
