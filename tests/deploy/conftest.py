"""A deployment laid out as ``deploy/`` describes, in a scratch root: the real MLflow server, a
registered model, a snapshot, API keys, an audit key and the instances' directories.

Under root (as in CI) the instances run as a non-root account created for the tests
(``ptb-kit``, no login), with the files owned as the runbook says; otherwise as the current user.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from features.contract import Dataset, write_dataset
from tests.mlflow_server import MlflowServer, environment_without_settings, mlflow_uris_restored
from tests.serving.conftest import register_bundle
from tests.system_accounts import ensure_account, why_python_fails_as
from training.fit import calibrate

PTB = Path(sys.executable).parent / "ptb"


def service_account() -> str:
    """A non-root account for the service when the tests run as root, else the current user.

    The account must be able to run this virtualenv's Python: where the interpreter lies in a
    folder only root may enter (a pyenv under /root), the service runs as root and a warning
    says so.
    """
    account = ensure_account()
    if account is None:
        return pwd.getpwuid(os.geteuid()).pw_name
    problem = why_python_fails_as(account)
    if problem:
        warnings.warn(
            f"{account} cannot run {sys.executable} ({problem}): the instances run as root here",
            stacklevel=2,
        )
        return "root"
    return account


def chown(path: Path, user: str | int, group: str, mode: int) -> None:
    """Owner and mode as the runbook sets them (owners only change under root)."""
    if os.geteuid() == 0:
        shutil.chown(path, user, group)
    path.chmod(mode)


@dataclass(frozen=True)
class Deployment:
    root: Path  # stands for / in the kit's paths
    account: str
    mlflow: MlflowServer
    keys: dict[str, str]  # role -> API key
    dataset: Dataset

    def path(self, kit_path: str) -> Path:
        """Where a path of the kit (``/etc/ptb/keys.json``) lies in this scratch root."""
        return self.root / kit_path.lstrip("/")


def ptb_cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(PTB), *args],
        capture_output=True,
        text=True,
        env=environment_without_settings(**(env or {})),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def deployment(tiny_dataset: Dataset) -> Iterator[Deployment]:
    account = service_account()
    group = grp.getgrgid(pwd.getpwnam(account).pw_gid).gr_name
    # Not under pytest's 0700 temporary folders: the service account must reach its files.
    root = Path(tempfile.mkdtemp(prefix="ptb-kit-"))
    root.chmod(0o755)
    try:
        mlflow_dir = root / "srv/mlflow"
        (mlflow_dir / "artifacts").mkdir(parents=True)
        server = MlflowServer(
            f"sqlite:///{mlflow_dir / 'mlflow.db'}", mlflow_dir / "artifacts", mlflow_dir / "log"
        )
        server.start()
        with mlflow_uris_restored():
            register_bundle(
                server.url,
                mlflow_dir / "artifacts",
                calibrate(tiny_dataset, name="model_2026").bundle,
                alias="champion",
            )
        snapshots = root / "srv/ptb/snapshots"
        write_dataset(tiny_dataset, snapshots / "current")
        etc = root / "etc/ptb"
        etc.mkdir(parents=True)
        keys_file = etc / "keys.json"
        keys = {
            role: ptb_cli(
                "keys", "add", "--id", f"{role}-client", "--role", role, "--file", str(keys_file)
            ).strip()
            for role in ("payment", "policy")
        }
        ptb_cli("audit", "new-key", "--out", str(etc / "audit.key"))
        # The runbook's ownership: root writes, the service's group reads.
        for directory in (root / "etc", root / "srv", root / "srv/ptb", snapshots):
            directory.chmod(0o755)
        chown(etc, "root", group, 0o750)
        chown(keys_file, "root", group, 0o640)
        chown(etc / "audit.key", "root", group, 0o640)
        for instance in ("payment", "policy"):
            for parent in ("var/lib/ptb", "var/cache/ptb", "run"):
                (root / parent).mkdir(parents=True, exist_ok=True)
                (root / parent).chmod(0o755)
            for own in (
                f"var/lib/ptb/{instance}",
                f"var/cache/ptb/{instance}",
                f"run/ptb-{instance}",
            ):
                (root / own).mkdir(parents=True)
                chown(root / own, account, group, 0o750)
        yield Deployment(root, account, server, keys, tiny_dataset)
    finally:
        if "server" in locals():
            server.stop()
        if not os.environ.get("PTB_KEEP_KIT"):
            shutil.rmtree(root, ignore_errors=True)
