"""A real MLflow tracking server on a throwaway PostgreSQL cluster, on 127.0.0.1, for the run.

``postgres`` starts a cluster (initdb into a temporary directory; as the ``postgres`` OS user
when the tests run as root, since PostgreSQL refuses to run as root) listening on a free
loopback port, with a database ``mlflow``. ``mlflow_server`` runs ``mlflow server`` on it with
artifacts served from a temporary directory. Where PostgreSQL cannot be started the tests are
skipped with the reason, except under ``CI``, where that is a failure: CI installs it
(``.ci/setup-postgres.sh``).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from features.contract import Dataset, write_dataset
from tests.conftest import FAST_TRAINING
from tests.mlflow_server import (
    MlflowServer,
    environment_without_settings,
    free_port,
    mlflow_uris_restored,
)
from training.pipeline import TrainingOutcome, train_and_register

POSTGRES_USER = "postgres"  # the OS user the server runs as when the tests run as root
DATABASE = "mlflow"
ROLE = "ptb"  # the cluster's superuser; the tests connect as it over loopback, trusted
FAST = FAST_TRAINING
# A down server must fail a client within seconds, not after MLflow's default back-off
# (7 retries, about four minutes).
CLIENT_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def unavailable(reason: str):
    """Skip a developer's run without PostgreSQL; under CI a missing PostgreSQL is a failure."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI: {reason} (run .ci/setup-postgres.sh)", pytrace=False)
    pytest.skip(reason)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout, else the PATH)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:

        def version(path: str) -> tuple[int, ...]:
            return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

        return Path(max(found, key=version)).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def client_env(**extra: str) -> dict[str, str]:
    """This process's environment without MLflow or PTB settings, plus fast client failure."""
    return environment_without_settings(**CLIENT_ENV, **extra)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in its own directory, on 127.0.0.1:port, trusted for loopback."""

    bin_dir: Path
    base: Path
    port: int = field(default_factory=free_port)

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    @property
    def uri(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def _as_owner(self, *command: str | Path) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *map(str, command)], capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        if os.geteuid() == 0:
            account = pwd.getpwnam(POSTGRES_USER)
            os.chown(self.base, account.pw_uid, account.pw_gid)
        steps = [
            (
                self.bin_dir / "initdb",
                *("-D", self.data_dir, "-U", ROLE, "--auth=trust", "-E", "UTF8"),
                *("--no-sync", "--no-instructions"),
            ),
            (
                self.bin_dir / "pg_ctl",
                *("-D", self.data_dir, "-l", self.log, "-w", "-t", "60", "start", "-o"),
                # Loopback TCP only, no Unix socket; durability is pointless for a throwaway.
                f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            ),
            (
                self.bin_dir / "createdb",
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, DATABASE),
            ),
        ]
        for step in steps:
            done = self._as_owner(*step)
            if done.returncode != 0:
                log = self.log.read_text() if self.log.exists() else ""
                raise RuntimeError(
                    f"{Path(step[0]).name} failed ({done.returncode}): "
                    f"{done.stderr.strip() or done.stdout.strip()}\n{log}"
                )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._as_owner(self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "stop")

    def query(self, sql: str, *params) -> list[tuple]:
        """Rows straight from the database, bypassing MLflow."""
        import psycopg

        with psycopg.connect(self.uri) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


@pytest.fixture(scope="session")
def integration_dir() -> Iterator[Path]:
    """A directory of our own for the run's servers and data.

    Not pytest's ``tmp_path_factory``: pytest keeps only its last three base directories, so a
    second pytest on the same machine could delete a live server's files; and the cluster runs
    as ``postgres``, who must be able to enter it.
    """
    base = Path(tempfile.mkdtemp(prefix="ptb-integration-"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(integration_dir: Path) -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster with an empty ``mlflow`` database, for the whole run."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL is not installed (no initdb)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            unavailable(f"running as root and there is no {POSTGRES_USER!r} user to run it as")
        if shutil.which("runuser") is None:
            unavailable("running as root and runuser is missing")
    try:
        import psycopg  # noqa: F401 - SQLAlchemy's default PostgreSQL driver, for MLflow's store
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[dev]')")
    base = integration_dir / "postgres"
    base.mkdir()
    cluster = PostgresCluster(bin_dir, base)
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        unavailable(f"PostgreSQL could not be started: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def mlflow_server(postgres: PostgresCluster, integration_dir: Path) -> Iterator[MlflowServer]:
    """``mlflow server`` on the cluster, healthy, for the whole run; killed at the end."""
    folder = integration_dir / "mlflow"
    folder.mkdir()
    server = MlflowServer(
        postgres.uri, folder / "artifacts", folder / "server.log", env=client_env()
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def mlflow_at_the_server(mlflow_server: MlflowServer, monkeypatch) -> Iterator[None]:
    """Each test starts with MLflow pointed at the server and clients that fail fast.

    Pointing the process-wide registry URI matters: ``MlflowClient(tracking_uri)`` without a
    ``registry_uri`` follows the process-wide one, which an earlier test may have moved.
    """
    for name, value in CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    with mlflow_uris_restored():
        mlflow.set_tracking_uri(mlflow_server.url)
        mlflow.set_registry_uri(mlflow_server.url)
        yield


@pytest.fixture(scope="session")
def first_training(mlflow_server: MlflowServer, tiny_dataset: Dataset) -> TrainingOutcome:
    """The first training on the empty server: registers the 2026 model (champion) and model 0."""
    with mlflow_uris_restored():
        return train_and_register(tiny_dataset, tracking_uri=mlflow_server.url, options=FAST)


@pytest.fixture(scope="session")
def tiny_data_dir(tiny_dataset: Dataset, integration_dir: Path) -> Path:
    """The tiny data set on disk, for ``ptb`` subprocesses and the serving snapshot."""
    return write_dataset(tiny_dataset, integration_dir / "data" / "tiny")


def registry_state(tracking_uri: str) -> tuple[list[str], dict[str, str]]:
    """Registered versions of ``ptb`` and where each alias points."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = sorted((str(v.version) for v in client.search_model_versions("name='ptb'")), key=int)
    aliases = client.get_registered_model("ptb").aliases if versions else {}
    return versions, {alias: str(version) for alias, version in aliases.items()}


def ptb_process(*args: str, tracking_uri: str, cwd: Path) -> subprocess.Popen:
    """``python -m ptb ARGS`` against a tracking URI, output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "ptb", *args],
        cwd=cwd,
        env=client_env(MLFLOW_TRACKING_URI=tracking_uri, COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_ptb(*args: str, tracking_uri: str, cwd: Path, timeout: float = 300):
    """Run ``python -m ptb ARGS`` to the end; returns (exit code, stdout, stderr)."""
    process = ptb_process(*args, tracking_uri=tracking_uri, cwd=cwd)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"ptb {' '.join(args)} timed out:\n{out}\n{err}") from None
    return process.returncode, out, err
