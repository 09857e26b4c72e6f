"""What an API key is: its form, the role it holds, and the scrypt hash stored in its place.

A key reads ``ptb.<key id>.<secret>``: the id says which stored hash to check, so a request costs
one hash at most, and the secret is 43 characters of ``secrets.token_urlsafe(32)`` (256 bits).
Only ``scrypt$N$r$p$<salt>$<hash>`` is stored: scrypt with a per-key random salt, so nothing
stored lets a reader call the API. Roles are ranked: ``payment`` reads grants and the model;
``policy`` may also run what-if; ``admin`` may also reload the serving model. The keys file
(``serving.access.key_file``) and the key check (``serving.access.keys``) share these.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Literal, TypeGuard

Role = Literal["payment", "policy", "admin"]
ROLES: tuple[Role, ...] = ("payment", "policy", "admin")  # each may do what those before may
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
KEY_PREFIX = "ptb"
KEY_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SECRET_BYTES = 32
# scrypt at 16 MiB and about 50 ms per check: slow for a guesser, cheap once cached.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**14, 8, 1, 32
SCRYPT_MAXMEM = 64 * 1024 * 1024


def is_role(value: object) -> TypeGuard[Role]:
    """Whether ``value`` names one of the roles."""
    return value in ROLES


def allows(role: str, required: str) -> bool:
    """Whether a key of ``role`` may use an endpoint that needs ``required``."""
    rank = {str(name): position for name, position in ROLE_RANK.items()}
    return rank.get(role, -1) >= rank[required]


def hash_secret(key: str, *, salt: bytes | None = None) -> str:
    """The stored form of a key: ``scrypt$N$r$p$<salt b64>$<hash b64>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        key.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=SCRYPT_DKLEN,
        maxmem=SCRYPT_MAXMEM,
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_secret(key: str, stored: str) -> bool:
    """Whether ``key`` hashes to ``stored``; constant-time comparison of the digests."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        want = _unb64(expected)
        digest = hashlib.scrypt(
            key.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, want)


def stored_hash_problem(stored: object) -> str | None:
    """Why a stored hash cannot be a real one (a placeholder, another scheme), or None."""
    if not isinstance(stored, str):
        return "hash is not a string"
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return "hash is not of the form scrypt$N$r$p$salt$hash (a placeholder?)"
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return "hash has a malformed parameter, salt or digest"
    if n < 2**14 or n & (n - 1) or r < 8 or p < 1 or len(salt) < 16 or len(digest) < 32:
        return "hash parameters are weaker than scrypt N=16384, r=8, 16-byte salt, 32-byte digest"
    return None


def new_key(key_id: str) -> str:
    """A fresh random key for ``key_id``: shown once, never stored."""
    return f"{KEY_PREFIX}.{key_id}.{secrets.token_urlsafe(SECRET_BYTES)}"


def key_id_of(key: str) -> str | None:
    """The key id a presented key names, or None if it is not of our form."""
    parts = key.split(".", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[2]:
        return None
    return parts[1] if KEY_ID_PATTERN.match(parts[1]) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
