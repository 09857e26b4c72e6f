"""A real MLflow tracking server on a throwaway PostgreSQL cluster, on 127.0.0.1, for the run.

``postgres`` starts a cluster (initdb into a temporary directory; as the ``postgres`` OS user
when the tests run as root, since PostgreSQL refuses to run as root) listening on a free
loopback port, with a database ``mlflow``. ``mlflow_server`` runs ``mlflow server`` on it with
artifacts served from a temporary directory. Where PostgreSQL cannot be started the tests are
skipped with the reason, except under ``CI``, where that is a failure: CI installs it
(``.ci/setup-postgres.sh``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow import MlflowClient

from features.contract import Dataset, write_dataset
from training.pipeline import TrainingOptions, TrainingOutcome, train_and_register

POSTGRES_USER = "postgres"  # the OS user the server runs as when the tests run as root
DATABASE = "mlflow"
ROLE = "ptb"  # the cluster's superuser; the tests connect as it over loopback, trusted
FAST = TrainingOptions(folds=2, challengers=False)
# A down server must fail a client within seconds, not after MLflow's default back-off
# (7 retries, about four minutes).
CLIENT_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PTB_"))}
    return {**env, **CLIENT_ENV, **extra}


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


@dataclass
class MlflowServer:
    """``mlflow server`` on a PostgreSQL backend, serving artifacts from a local directory."""

    backend_uri: str
    artifacts: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        """Start the server (same port on a restart) and wait until ``/health`` answers."""
        command = [sys.executable, "-m", "mlflow", "server"]
        command += ["--backend-store-uri", self.backend_uri]
        command += ["--artifacts-destination", str(self.artifacts), "--serve-artifacts"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                command,
                cwd=self.log.parent,
                env=client_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its workers too
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server never healthy:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.25)

    def stop(self) -> None:
        """SIGKILL the server's process group, as a crash would."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


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
    server = MlflowServer(postgres.uri, folder / "artifacts", folder / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def mlflow_uris_restored() -> Iterator[None]:
    """Put MLflow's process-wide tracking and registry URIs back as they were after a block.

    ``mlflow.set_tracking_uri`` and ``set_registry_uri`` also export ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_REGISTRY_URI``, so left alone they would send later tests (and any ``Settings()``)
    to this run's server.
    """
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None unsets it
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
