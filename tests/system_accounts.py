"""Test support: a non-root service account, created when the tests run as root (as in CI)."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

SERVICE_ACCOUNT = "ptb-kit"  # no login shell, no home, no password
ROOT = Path(__file__).resolve().parents[1]


def ensure_account(name: str = SERVICE_ACCOUNT) -> str | None:
    """The account, created with its own group if missing; None when not running as root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
        )
    return name


def why_python_fails_as(name: str) -> str | None:
    """Why ``name`` cannot import ptb with this interpreter (a pyenv under /root), or None."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import serving"],
            user=name,
            group=name,
            extra_groups=[],
            cwd="/",
            env={"PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        return str(exc)
    return probe.stderr.strip() if probe.returncode else None


def read_as(name: str, path: Path) -> subprocess.CompletedProcess:
    """``cat path`` as the account: what the service account can really read."""
    return subprocess.run(
        ["/bin/cat", str(path)],
        user=name,
        group=name,
        extra_groups=[],
        capture_output=True,
        text=True,
    )
