"""Whether a service account could read a file: checked before ``ptb`` writes one it needs.

Unix permissions as the kernel applies them to that account: every directory on the way must
let it enter (x), and the file must let it read (r), judged by the owner's, the group's or
everyone's bits, whichever class the account falls in. ACLs are not considered.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

READ, ENTER = 0o4, 0o1


def _allowed(
    uid: int, gid: int, mode: int, bit: int, user: pwd.struct_passwd, groups: set[int]
) -> bool:
    if uid == user.pw_uid:
        return bool(mode >> 6 & bit)
    if gid in groups:
        return bool(mode >> 3 & bit)
    return bool(mode & bit)


def describe(uid: int, gid: int, mode: int) -> str:
    """``root:ptb 0640``: owner, group and mode as an operator reads them."""

    def name(lookup, number: int) -> str:
        try:
            return lookup(number)[0]
        except KeyError:
            return str(number)

    return f"{name(pwd.getpwuid, uid)}:{name(grp.getgrgid, gid)} {stat.S_IMODE(mode):04o}"


def unreadable_by(account: str, path: Path, ownership: tuple[int, int, int]) -> str | None:
    """Why ``account`` could not read ``path`` written with (uid, gid, mode); None if it could."""
    try:
        user = pwd.getpwnam(account)
    except KeyError:
        return f"there is no account {account!r} on this machine"
    if user.pw_uid == 0:
        return None
    groups = set(os.getgrouplist(account, user.pw_gid))
    for directory in reversed(path.absolute().parents):
        try:
            found = directory.stat()
        except FileNotFoundError:
            continue  # created on the way, with the writer's defaults
        if not _allowed(found.st_uid, found.st_gid, found.st_mode, ENTER, user, groups):
            owned = describe(found.st_uid, found.st_gid, found.st_mode)
            return f"the service account {account!r} cannot enter {directory} ({owned})"
    uid, gid, mode = ownership
    if not _allowed(uid, gid, mode, READ, user, groups):
        return (
            f"the service account {account!r} could not read it ({describe(uid, gid, mode)}): "
            f"give it to the service's group (chgrp GROUP {path}; chmod 0640 {path})"
        )
    return None
