"""`parse`: a query's date phrases as ranges (search.dates.grammar), the words that open one end of
a range (since 2020, 2020年以前), and the text that is left to embed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from search.dates.calendar import END_OF_TIME, as_datetime
from search.dates.grammar import groups
from search.dates.tokens import tokens
from search.dates.words import (
    AFTER_PHRASE,
    BEFORE_PHRASE,
    CONNECTOR,
    OPEN_AFTER,
    OPEN_AFTER_MEANS,
    OPEN_BEFORE,
    OPEN_BEFORE_MEANS,
    ending,
)

# Dates are read in this much of a query at most: the longest the product takes (the page's
# limit; search.library's clean_query refuses a longer one, with this number).
MAX_QUERY_CHARS = 2000
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
QUOTED = re.compile(r'"[^"]*"|“[^”]*”')  # words in quotes are words: "today" on a sign
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class Query:
    """`text`: what is left to embed ("" where the query was only a date); `after` (inclusive)
    and `before` (exclusive): the range understood, None where open (with several phrases, the
    range that spans them); `phrases`: the date phrases as typed, for the page to show, and
    `ranges`: each one's (after, before)."""

    text: str
    after: datetime | None = None
    before: datetime | None = None
    phrases: tuple[str, ...] = ()
    ranges: tuple[tuple[datetime | None, datetime | None], ...] = ()

    def days(self) -> list[tuple[str, date | None, date | None]]:
        """Each phrase with the first and last day it names (inclusive), None where open."""
        return [
            (phrase, after and after.date(), before and (before - _INSTANT).date())
            for phrase, (after, before) in zip(self.phrases, self.ranges, strict=True)
        ]


def parse(text: str, today: date | datetime | None = None, hemisphere: str = "north") -> Query:
    """The date phrases of `text` as a range, and the text without them.

    Args:
        text: a query as typed, in any language of search.language's tables (or several).
        today: the day relative phrases count from; defaults to today.
        hemisphere: "north" or "south", for seasons.

    Returns:
        Query(text, after, before, phrases, ranges): each phrase's range, and the range that
        spans them; with no date phrase, Query(text) unchanged.
    """
    if hemisphere not in ("north", "south"):
        raise ValueError(f"hemisphere is 'north' or 'south', not {hemisphere!r}")
    typed = text
    text = text.translate(_FULL_WIDTH_DIGITS)  # １２月 is 12月
    today = today.date() if isinstance(today, datetime) else today or date.today()
    head = text[:MAX_QUERY_CHARS]  # dates are read this far (the rest, if any, stays text)
    ranges, cut, spans = [], [], []
    quoted = [m.span() for m in QUOTED.finditer(head)]
    for start, end, after, before, ranged in groups(head, tokens(head, today), today, hemisphere):
        if any(q < end and start < q_end for q, q_end in quoted):
            continue
        lead = ending(OPEN_BEFORE, head, start)
        tail = OPEN_AFTER.match(head, end)
        word = " ".join(((lead or tail).group() if lead or tail else "").lower().split())
        means = OPEN_BEFORE_MEANS.get(word) if lead else OPEN_AFTER_MEANS.get(word)
        if ranged:  # 从2018到2020: a range says both its ends
            pass
        elif means == "since":  # since 2020, 2020年至今, 2021 to now
            before = None
        elif means == "after":
            after, before = before, None
        elif means == "until":
            after = None
        elif means == "before":
            after, before = None, after
        if after is END_OF_TIME:  # after 9999: no day is, so not a date
            continue
        ranges.append((after, before))
        first = lead.start() if lead else start  # the phrase with its open ends, as typed
        last = tail.end() if tail else end
        spans.append((first, last))
        pre = ending(BEFORE_PHRASE, head, first)  # and the words around it that go too
        post = AFTER_PHRASE.match(head, last)
        cut.append((pre.start() if pre else first, post.end() if post else last))
    if not ranges:
        return Query(typed)
    pairs, i = [], len(ranges) - 1  # (range, span) from the end
    while i >= 0:
        (a, open_end), (open_start, b) = ranges[i - 1], ranges[i]
        if i and open_end is open_start is None and a is not None and b is not None and a < b:
            # "after 2019 and before 2021": one range between
            pairs.append(((a, b), (spans[i - 1][0], spans[i][1])))
            i -= 2
        else:
            pairs.append((ranges[i], spans[i]))
            i -= 1
    ranges, spans = [r for r, _ in reversed(pairs)], [s for _, s in reversed(pairs)]
    phrases = tuple(text[first:last].strip() for first, last in spans)
    afters = [a for a, _ in ranges]
    befores = [b for _, b in ranges]
    after = None if None in afters else min(afters)
    before = None if None in befores else max(befores)
    rest, last = [], 0
    for i, (a, b) in enumerate(cut):
        between = text[last:a]  # a string of its own: "or" just after 3天前 is a word
        if not (i and CONNECTOR.fullmatch(between)):  # 2019年和2021年: the 和 goes too
            rest.append(between)
        last = b
    rest.append(text[last:])
    remaining = re.sub(r"\s+", " ", " ".join(rest)).strip(" ,，、。.;；:：")
    ranges = tuple((as_datetime(a), as_datetime(b)) for a, b in ranges)
    return Query(remaining, as_datetime(after), as_datetime(before), phrases, ranges)
