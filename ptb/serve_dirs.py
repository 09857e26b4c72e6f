"""The directories one ``ptb serve --workers N`` instance shares between its workers, and only
with them: the metrics files (``PROMETHEUS_MULTIPROC_DIR``) and the instance's model
(``PTB_INSTANCE_DIR``, see ``serving.instance``).

Each is the operator's if set (emptied first, as the workers start afresh), otherwise a new
temporary one removed at exit. A directory another running instance holds is refused: two
instances sharing one would wipe each other's counters, or switch each other's model.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from features.errors import ConfigurationError

LOCK = ".ptb-instance.lock"


@contextmanager
def instance_owned(variable: str, prefix: str, stale: str) -> Iterator[Path]:
    """``variable``'s directory, held by this instance (``flock``) and emptied of ``stale``."""
    given = os.environ.get(variable)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        lock = stack.enter_context((folder / LOCK).open("a+"))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise ConfigurationError(
                variable.lower(),
                f"{variable}={folder} is in use by another running ptb instance ({holder}): "
                "give each instance a directory of its own",
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        for path in folder.glob(stale):
            if path.name != LOCK:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.environ[variable] = str(folder)
        try:
            yield folder
        finally:
            if not given:
                shutil.rmtree(folder, ignore_errors=True)
                del os.environ[variable]


@contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """``PROMETHEUS_MULTIPROC_DIR`` for the workers, emptied first: a scrape sums them all."""
    with instance_owned("PROMETHEUS_MULTIPROC_DIR", "ptb-metrics-", "*.db") as folder:
        yield folder


@contextmanager
def instance_dir() -> Iterator[Path]:
    """``PTB_INSTANCE_DIR`` for the workers, emptied first: the model they serve together."""
    with instance_owned("PTB_INSTANCE_DIR", "ptb-instance-", "*") as folder:
        yield folder
