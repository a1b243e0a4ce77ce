"""The search filters as SQL conditions on a photo's row: in a folder, taken before or after a
date, with words read in it; and whether a path lies under some roots."""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime

from sqlalchemy import and_, false, or_, select

from search.schema import Photo, WordLine


def under(path: str, roots: list[str]) -> bool:
    """Whether `path` is one of `roots` or inside one."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def in_folder(folder: str):
    """The photo lies under the absolute path `folder`, or `folder` is (part of) the name of a
    folder on its path: a "/" somewhere before it and after it. Paths stored as hex (not UTF-8)
    are matched on their bytes' hex, where a match could, very rarely, straddle two bytes.
    Typed in either Unicode form, it finds names stored in either (macOS writes NFD: Köln as
    o + a combining diaeresis); a NUL, which no name holds, finds nothing."""
    if "\x00" in folder:
        return false()
    forms = {unicodedata.normalize(form, folder) for form in ("NFC", "NFD")}
    return or_(*(_in_one_folder(f) for f in sorted(forms)))


def _in_one_folder(folder: str):
    if os.path.isabs(folder):
        prefix = folder.rstrip("/") + "/"
        return or_(
            Photo.path.startswith(prefix, autoescape=True),
            Photo.path.startswith("hex:" + os.fsencode(prefix).hex()),
        )
    part = folder.strip("/")
    return or_(
        Photo.path.ilike(f"%/%{_like(part)}%/%", escape="\\"),
        Photo.path.like(f"hex:%2f%{os.fsencode(part).hex()}%2f%"),
    )


def _like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def taken(when: datetime, side: str):
    """The photo was taken (else its file last changed) on or after / before `when`."""
    ns = _ns(when)
    if side == "after":
        return or_(Photo.taken_at >= when, and_(Photo.taken_at.is_(None), Photo.mtime_ns >= ns))
    return or_(Photo.taken_at < when, and_(Photo.taken_at.is_(None), Photo.mtime_ns < ns))


def _ns(when: datetime) -> int:
    """Nanoseconds since 1970 as the database's 64-bit integer holds them: dates beyond its range
    (year 1 is 6e19 ns before 1970) or the time zone's are the ends of time."""
    try:
        ns = int(when.timestamp() * 1e9)
    except (ValueError, OverflowError, OSError):
        ns = -(2**63) if when.year < 1970 else 2**63 - 1
    return min(max(ns, -(2**63)), 2**63 - 1)


def has_text():
    """Words were read in the photo: it has a line with a box. Its file and folder name are a
    line too, without one (box "null"), so a photo is not "with text" by its name alone. An
    EXISTS that the index on word_lines.photo answers for each photo."""
    read = select(WordLine.id).where(WordLine.photo == Photo.id, WordLine.box != "null")
    return read.exists()
