"""The deployment kit's systemd files: valid for systemd, and consistent with each other.

``systemd-analyze verify`` checks the units as systemd would load them; ``systemd-sysusers`` and
``systemd-tmpfiles`` create the accounts and directories in a scratch root, so their owners and
modes are the ones a fresh machine gets.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.kit import DEPLOY, UNITS, Unit, env_file

VENV_BIN = Path(sys.executable).parent
INSTANCES = {"ptb-payment.service": "payment", "ptb-policy.service": "policy"}


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        reason = f"{tool} is not installed (Debian's systemd package provides it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    analyze = need("systemd-analyze")
    # The programs are where the docs install them (/opt/...); here, this virtualenv's.
    for name in UNITS:
        text = (DEPLOY / "systemd" / name).read_text()
        text = text.replace("/opt/ptb/bin/ptb", str(VENV_BIN / "ptb"))
        text = text.replace("/opt/mlflow/bin/mlflow", str(VENV_BIN / "mlflow"))
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if any(name in line for name in UNITS)
    ]
    assert done.returncode == 0 and not said, done.stdout + done.stderr


def test_sysusers_and_tmpfiles_create_the_accounts_and_directories(tmp_path):
    sysusers, tmpfiles = need("systemd-sysusers"), need("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles sets owners only as root")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    subprocess.run(
        [sysusers, f"--root={root}", str(DEPLOY / "sysusers.d" / "ptb.conf")],
        check=True,
        capture_output=True,
    )
    accounts = {
        fields[0]: fields
        for fields in (line.split(":") for line in (root / "etc/passwd").read_text().splitlines())
    }
    groups = {
        fields[0]: int(fields[2])
        for fields in (line.split(":") for line in (root / "etc/group").read_text().splitlines())
    }
    for name in ("ptb", "mlflow"):
        assert accounts[name][6] == "/usr/sbin/nologin"  # no login, no password
    subprocess.run(
        [tmpfiles, "--create", f"--root={root}", str(DEPLOY / "tmpfiles.d" / "ptb.conf")],
        check=True,
        capture_output=True,
    )

    def owner(path: str) -> tuple[int, int, str]:
        found = (root / path.lstrip("/")).stat()
        return found.st_uid, found.st_gid, oct(stat.S_IMODE(found.st_mode))

    mlflow_uid, ptb_gid = int(accounts["mlflow"][2]), groups["ptb"]
    assert owner("/srv/mlflow/artifacts") == (mlflow_uid, groups["mlflow"], "0o750")
    assert owner("/etc/ptb") == (0, ptb_gid, "0o750")  # ptb reads, only root writes
    assert owner("/srv/ptb/snapshots") == (0, ptb_gid, "0o750")


def test_units_agree_with_the_accounts_env_files_and_nginx():
    accounts = re.findall(r"^u\s+(\S+)", (DEPLOY / "sysusers.d/ptb.conf").read_text(), re.M)
    nginx = (DEPLOY / "nginx/ptb.conf").read_text()
    shared = env_file(DEPLOY / "env/ptb.env")
    assert shared["PTB_ENVIRONMENT"] == "production"
    metrics_dirs = set()
    for unit_name, apis in INSTANCES.items():
        unit = Unit.read(unit_name)
        env = unit.environment
        assert unit.one("User") in accounts
        assert env["PTB_APIS"] == apis and unit.command[unit.command.index("--apis") + 1] == apis
        # The service starts in /: every path it is given must be absolute.
        for key in ("PTB_AUDIT_LOG", "PTB_MODEL_CACHE_DIR", "PROMETHEUS_MULTIPROC_DIR"):
            assert env[key].startswith("/"), (unit_name, key)
        for key in ("PTB_API_KEYS_FILE", "PTB_AUDIT_KEY_FILE", "PTB_DATA_DIR"):
            assert shared[key].startswith("/"), key
        # Directories systemd creates and chowns for the account hold what it writes.
        assert env["PTB_AUDIT_LOG"].startswith(f"/var/lib/{unit.one('StateDirectory')}/")
        assert env["PTB_MODEL_CACHE_DIR"] == f"/var/cache/{unit.one('CacheDirectory')}"
        assert env["PROMETHEUS_MULTIPROC_DIR"] == f"/run/{unit.one('RuntimeDirectory')}"
        metrics_dirs.add(env["PROMETHEUS_MULTIPROC_DIR"])
        port = unit.command[unit.command.index("--port") + 1]
        assert unit.command[unit.command.index("--host") + 1] == "127.0.0.1"
        assert f"upstream ptb_{apis} {{\n    server 127.0.0.1:{port};" in nginx
        for hardening in (
            "NoNewPrivileges",
            "ProtectSystem",
            "PrivateTmp",
            "CapabilityBoundingSet",
        ):
            assert unit.settings.get(hardening), (unit_name, hardening)
    assert len(metrics_dirs) == len(INSTANCES)  # one multiprocess directory per instance
    mlflow = Unit.read("mlflow.service")
    assert mlflow.one("User") in accounts
    assert "/srv/mlflow/artifacts" in mlflow.one("ReadWritePaths")
