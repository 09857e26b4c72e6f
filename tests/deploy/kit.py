"""Reading the deployment kit (``deploy/``) as a test runs it: units, environment files, nginx.

The tests run the shipped files, not copies: a unit's ``Environment=`` lines and ``ExecStart=``
become a real process's environment and command, and the nginx site becomes nginx's
configuration, with only the machine-specific paths and ports replaced. Each replacement must
match the shipped text exactly once, so a file that drifts from what was tested fails.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("mlflow.service", "ptb-payment.service", "ptb-policy.service")


def replaced(text: str, replacements: dict[str, str], *, where: str) -> str:
    """``text`` with each key replaced by its value; each key must occur in it."""
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{where} no longer contains {old!r}: update the test and docs")
        text = text.replace(old, new)
    return text


def env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a systemd ``EnvironmentFile=`` (comments and blanks skipped)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


@dataclass(frozen=True)
class Unit:
    """What a ``[Service]`` section says: its environment, command and directories."""

    name: str
    settings: dict[str, list[str]]  # directive -> every value given, in order

    @classmethod
    def read(cls, name: str) -> Unit:
        text = (DEPLOY / "systemd" / name).read_text().replace("\\\n", " ")
        service = text.split("[Service]", 1)[1].split("\n[", 1)[0]
        settings: dict[str, list[str]] = {}
        for line in service.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                settings.setdefault(key, []).append(re.sub(r"\s+", " ", value).strip())
        return cls(name, settings)

    def one(self, directive: str) -> str:
        values = self.settings.get(directive, [])
        assert len(values) == 1, f"{self.name}: {directive}= given {len(values)} times"
        return values[0]

    @property
    def environment(self) -> dict[str, str]:
        """Every ``Environment=`` assignment (several per line allowed, as systemd reads them)."""
        found = {}
        for line in self.settings.get("Environment", []):
            for pair in shlex.split(line):
                key, _, value = pair.partition("=")
                found[key] = value
        return found

    @property
    def command(self) -> list[str]:
        return shlex.split(self.one("ExecStart"))
