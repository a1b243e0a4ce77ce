"""The indexer's error: a run that cannot start or finish says what to do (indexer/cli.py turns
it into one line and an exit code)."""

from __future__ import annotations

import errno

from altclip_core.errors import AltCLIPError


class IndexerError(AltCLIPError):
    """The run cannot start or finish; the message says what to do."""


def out_of_space(e: BaseException | None) -> bool:
    """Whether `e`, or an error behind it, says that a disk is full or a quota used up (an
    OSError's errno; the words of SQLite's, PostgreSQL's or our own message)."""
    words = ("no space left", "disk is full", "disk quota exceeded")
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(w in str(e).lower() for w in words):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
