"""What a caller may pass to `Library`, checked and made plain: a query's text, a photo's id, a
number, a date, a folder filter. Anything else is a SearchError that says what was expected,
never a traceback from deeper down."""

from __future__ import annotations

import numbers
import re
import unicodedata
from datetime import date, datetime

import numpy as np

from search.hits import QueryTooLong, SearchError
from search.query import MAX_QUERY_CHARS
from search.terminal import escaped

SURROGATE = re.compile("[\ud800-\udfff]")
LARGEST_ID = 2**63 - 1  # the catalog's ids are 64-bit integers


def plain(text: str) -> str:
    """`text` as it is searched: control characters as spaces, a lone surrogate (bytes that were
    not UTF-8 on a command line, which cannot be tokenised) as �, no spaces around."""
    text = SURROGATE.sub("\ufffd", text)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).strip()


EMPTY_HINTS = {
    "query": "what the photo shows, e.g. 海边的日落",
    "negative": "what to leave out",
    "label": "words, e.g. 猫 or 'a beach'",
}


def clean_query(text: str, what: str = "query") -> str:
    """The query (or the `what`: "negative", a classifier's "label"), `plain`; an error for one
    that is empty or absurdly long."""
    if not isinstance(text, str):
        raise SearchError(f"a text {what} must be a string, not {type(text).__name__}")
    text = plain(text)
    if not text:
        raise SearchError(f"the {what} is empty: type {EMPTY_HINTS[what]}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLong(len(text), what=what)
    return text


def whole(x) -> bool:
    """Whether `x` is a whole number (a numpy integer too), not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def photo_id(x) -> int | None:
    """`x` as a photo id: a whole number (not a bool) the catalog's 64-bit ids can hold; None for
    any other, which is no photo's."""
    if whole(x) and -LARGEST_ID - 1 <= x <= LARGEST_ID:
        return int(x)  # a numpy integer too
    return None


def photo_ids(ids) -> np.ndarray:
    """`ids` (a sequence or array of photo ids) as int64; a SearchError for one that is not a
    whole number, or that no 64-bit id can be (which no photo's is)."""
    ids = np.asarray(ids)
    if len(ids) and ids.dtype.kind in "uO":  # may hold ids past int64, no photo's
        given = ids.reshape(-1).tolist()
        if ids.dtype.kind == "O" and not all(whole(i) for i in given):
            raise SearchError("photo ids are whole numbers")
        if outside := sorted(i for i in given if photo_id(i) is None):
            raise SearchError(f"photos {outside[:5]} are not in the index")
        ids = ids.astype(np.int64)
    elif len(ids) and ids.dtype.kind != "i":
        raise SearchError(f"photo ids are whole numbers, not {ids.dtype}")
    return ids


def check_search(k, min_score=None, kinds=None, folder=None, with_text=False) -> None:
    """A SearchError for a search's `k` (a whole number from 1), `min_score` (a number), `kinds`
    (a list of extensions, not one string), `folder` (`check_folder`) or `with_text` (True,
    False or None) that is none such."""
    if not whole(k) or k < 1:
        raise SearchError(f"k must be a whole number of at least 1, not {k!r:.40}")
    if min_score is not None and not number(min_score):
        raise SearchError(f"min_score is a number, not {min_score!r:.40}")
    if isinstance(kinds, str):
        raise SearchError(f"kinds is a list of extensions, e.g. ['jpg'], not {kinds!r:.40}")
    if not (with_text is None or isinstance(with_text, (bool, np.bool_))):
        raise SearchError(f"with_text is True or False, not {with_text!r:.40}")
    check_folder(folder)


def number(x) -> bool:
    """Whether `x` is a real number, not a bool, NaN or infinite."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and np.isfinite(x)


def check_folder(folder) -> None:
    """A SearchError for a `folder` filter that is not a string, or holds a NUL, which no path
    holds (and SQLite's LIKE reads as the pattern's end: it matched every photo). Other control
    characters stay: a folder's name may hold a newline, and the page filters by the library's
    own folders."""
    if folder is not None and not isinstance(folder, str):
        raise SearchError(f"folder is a folder's name or path, not {type(folder).__name__}")
    if folder is not None and "\x00" in folder:
        raise SearchError(f"no folder is named {escaped(folder)[:80]}: a name holds no NUL (\\x00)")


def as_date(value: str | date | datetime | None) -> datetime | None:
    """A datetime, a date (its midnight) or an ISO string as a naive datetime in this machine's
    local time, as the catalog keeps capture times (EXIF's wall clock) and compares file times;
    a SearchError else. A time with a zone (2023-06-01T00:00+14:00) is that moment here (in UTC:
    2023-05-31 10:00), so naive and zoned dates mix."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise SearchError(f"{value!r:.60} is not a date; write it as 2023-06-01") from None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=None)
    try:
        return value.astimezone().replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):  # hours from year 1 or 9999: its wall clock
        return value.replace(tzinfo=None)
