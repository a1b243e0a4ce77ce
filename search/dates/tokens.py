"""The date words of a query, found: each a token (kind, value, start, end), read from the text by
the grammar's patterns (below), whose words come from every language's table.

Kinds, and their values:
- date: {y, m, d} (2023-06-15; d None for 2023-06);
- year: {y} (2023, 2023年, 19年 before a season), or {rel} (今年 0, last year -1, 3年前 -3);
- month: {m, d, alone} (6月, 6月15日, June 15; `alone`: a name that may be a word, as May), or
  {rel} (上个月 -1, 3 months ago -3);
- day: {d} (15号, the 15th: only beside a month said relative, 上个月15号), or {rel} (今天 0,
  yesterday -1);
- week: {rel, weekday} (上周 -1, this week 0; weekday 0 to 6, "weekend" or None);
- season: {s}; festival: {f}, its anchor (search.language's FESTIVALS); modifier: {w} (last,
  this: of the season, festival or month after it); to: a range word (到, to, and, 、).

A relative word keeps its unit and offset: search.dates.grammar resolves it with the words
beside it, so that 上个月 + 15号 is the 15th of last month and 去年 + 今天 this day last year.
"""

from __future__ import annotations

import re
from datetime import date

from search.dates.calendar import shifted, valid
from search.dates.words import (
    BC,
    COUNT_DIGITS,
    DAY_ENDS,
    DAY_NUMBER,
    JOINS,
    MONTH_CUE,
    MONTH_NUMBER,
    NEVER,
    NOT_A_YEAR_BEFORE,
    NOT_YEAR_AFTER,
    NUMBER,
    NUMERAL_DAY,
    POSITIONAL,
    TENS,
    WORD_ENDS,
    YEAR_CUE,
    YEAR_DIGITS,
    A,
    Z,
    alternation,
    characters,
    count,
    ending,
    every,
    merged,
    number,
)

# A year alone is a date only within these (1000年的古树 is a thousand-year-old tree), and N年前
# with a year N of these is before that year (2020年前), else N years ago (3000年前: words)
YEARS = range(1800, 2201)
FESTIVALS = merged("FESTIVALS")
SEASONS = merged("SEASONS") | merged("SEASONS_AFTER_A_YEAR")
RELATIVE, MONTHS, MODIFIERS = merged("RELATIVE"), merged("MONTHS"), merged("MODIFIERS")
AGO_UNITS, WEEKDAYS = merged("AGO_UNITS"), merged("WEEKDAYS")
WEEK_PREFIXES = merged("WEEK_PREFIXES")


def _optional(pattern: str) -> str:
    return "" if pattern == NEVER else f"{pattern}?"


_YEAR = alternation("YEAR_WORDS")  # 年
_MONTH, _DAY = alternation("MONTH_WORDS"), alternation("DAY_WORDS")  # 月; 日, 号
_AFTER_YEAR = "(?:" + "|".join(f"(?<={re.escape(w)})" for w in every("YEAR_WORDS")) + ")"
_FESTIVALS = alternation("FESTIVALS", spaced=False)
_SPACED_FESTIVALS = "|".join(  # new year's eve, new years eve
    re.escape(f).replace("'", "['’]?")
    for f in sorted(every("FESTIVALS", spaced=True), key=len, reverse=True)
)
_MONTH_NOT_AFTER = characters([*POSITIONAL, TENS, *every("MONTH_NOT_AFTER")])  # 一个月
_ORDINAL = alternation("ORDINAL_SUFFIXES")
_MONTH_NAMES = alternation("MONTHS", spaced=True)
_SPACED_COUNT = f"{alternation('NUMBERS', spaced=True)}|{alternation('ARTICLES', spaced=True)}"
_RANGE = f"{alternation('RANGE_WORDS', spaced=True)}|{alternation('AND_WORDS', spaced=True)}"

# (kind, pattern), matched case-insensitively (re.VERBOSE: spaces in a pattern are \s).
RULES = [
    # 2023-06-15, 2023/6/15, 2023.06
    (
        "iso",
        r"(?<![\d./-]) (?P<y>(?:19|20)\d\d) [-/.] (?P<m>\d{1,2}) (?:[-/.](?P<d>\d{1,2}))?"
        r"(?![\d./-]*\d)",
    ),
    # 2023年, not 1990年代 nor 2021年13月 (no such month: no date at all), nor 12023年 (the
    # end of a longer number)
    (
        "year",
        rf"(?P<y>(?<!\d)\d{{4}}|{YEAR_DIGITS}{{4}}) \s* {_YEAR}"
        rf"(?!{alternation('NOT_A_YEAR_AFTER_YEAR_WORD')}|\s*(?:0+|1[3-9]|[2-9]\d)\s*{_MONTH})",
    ),
    # 19年夏天, 23年国庆, 21年5月: a year by its last two digits, where a season, a month or a
    # festival follows (19年 alone may be nineteen years)
    (
        "yy",
        rf"(?<![\w.]) (?P<yy>\d\d) \s* {_YEAR} (?= \s* (?:{alternation('JOINS', spaced=False)}\s*)?"
        rf"(?:{alternation('SEASONS_AFTER_A_YEAR')} | (?:1[0-2]|0?[1-9]) \s* {_MONTH}"
        rf" | {_FESTIVALS}))",
    ),
    (
        "ago",
        rf"(?P<n>{NUMBER}) \s* (?P<u>{alternation('AGO_UNITS', spaced=False)})"
        rf" {alternation('AGO', spaced=False)}",
    ),
    (
        "ago",
        rf"{A} (?P<n>\d+|{_SPACED_COUNT}) \s+ (?P<u>{alternation('AGO_UNITS', spaced=True)})"
        rf" \s+ {alternation('AGO', spaced=True)} {Z}",
    ),
    # 上周六, 这个星期天, 上周末; not 上周六合彩
    (
        "weekday",
        rf"(?P<wp>{alternation('WEEK_PREFIXES')}) {_optional(alternation('WEEK_MEASURES'))}"
        rf" {alternation('WEEK_WORDS')}"
        rf" (?P<wd>{alternation('WEEKDAYS')}|{alternation('WEEKEND')}) {DAY_ENDS}",
    ),
    ("relative", alternation("RELATIVE", spaced=False)),
    ("relative", rf"{A} {alternation('RELATIVE', spaced=True)} {Z}"),
    ("festival", _FESTIVALS),
    ("festival", rf"{A} (?:{_SPACED_FESTIVALS or NEVER}) {Z}"),
    ("season", alternation("SEASONS", spaced=False)),
    # 2021年夏, not 2021年夏至 nor 2022年冬奥会: the season word ends there
    ("season", rf"{_AFTER_YEAR} {alternation('SEASONS_AFTER_A_YEAR')} {WORD_ENDS}"),
    ("season", rf"{A} {alternation('SEASONS', spaced=True)} {Z}"),
    # 6月, 十二月, 6月15日, 6月份
    (
        "month",
        rf"(?<!\d) (?<!{_MONTH_NOT_AFTER}) (?P<m>{MONTH_NUMBER}) \s* {_MONTH}"
        rf" {_optional(alternation('MONTH_SUFFIXES'))}"
        rf" (?: (?P<d>\d+|{NUMERAL_DAY}) \s* {_DAY})?",
    ),
    # June, Jun., June 15, 15 June, 15th of June
    (
        "month",
        rf"{A} (?:(?P<d1>{DAY_NUMBER}) {_optional(_ORDINAL)} \s+"
        rf" (?:{alternation('DAY_OF', spaced=True)}\s+)?)?"
        rf" (?P<name>{_MONTH_NAMES}) \.? (?: \s+ (?P<d2>{DAY_NUMBER}) {_optional(_ORDINAL)}"
        rf" {Z} (?!\s*:))? {Z}",
    ),
    # 15号, the 15th: a day of a month said beside it (上个月15号, the 15th of last month)
    ("day", rf"(?<!\d) (?<!{COUNT_DIGITS}) (?P<d>{NUMERAL_DAY}) \s* {_DAY}"),
    (
        "day",
        rf"{A} (?:{alternation('ORDINAL_ARTICLES', spaced=True)}\s+)? (?P<d>{DAY_NUMBER})"
        rf" {_ORDINAL} {Z} (?!\s+ (?:{alternation('DAY_OF', spaced=True)}\s+)? {_MONTH_NAMES})",
    ),
    ("modifier", rf"{A} (?P<w>{alternation('MODIFIERS', spaced=True)}) {Z}"),
    # a bare year: 2023, not v2023, 2023x, #2023, 2023号, 2023.5
    (
        "bare",
        rf"(?<![A-Za-z0-9_.#/:$¥€£]) (?P<y>(?:19|20)\d\d)"
        rf"(?![A-Za-z0-9_%]|-[A-Za-z]|\s*(?:{NOT_YEAR_AFTER}))",  # not 2019-nCoV
    ),
    (
        "to",
        rf"{alternation('RANGE_WORDS', spaced=False)}|{alternation('AND_WORDS', spaced=False)}"
        rf"|[~～\-–—]|{A} (?:{_RANGE}) {Z}",
    ),
]
_RULES = [(kind, re.compile(p, re.IGNORECASE | re.VERBOSE)) for kind, p in RULES]


def tokens(text: str, today: date) -> list[tuple[str, dict, int, int]]:
    """The date words of `text` in order, as (kind, value, start, end); `today`: only to leave
    out what no calendar here holds (3000 years ago) and years to come written bare (2077)."""
    # Every pattern's matches; where they overlap, the earliest, then the longest, wins.
    candidates = sorted(
        (
            (m.start(), -m.end(), i, kind, m)
            for i, (kind, r) in enumerate(_RULES)
            for m in r.finditer(text)
        ),
        key=lambda c: c[:3],
    )
    found, taken = [], 0
    for start, _, _, kind, m in candidates:
        if start < taken or not m.group():
            continue
        value = {k: v for k, v in m.groupdict().items() if v}
        word = " ".join(m.group().lower().split())
        if kind == "iso":
            y, mo, d = int(value["y"]), int(value["m"]), int(value.get("d") or 0)
            if not 1 <= mo <= 12 or d and not valid(y, mo, d):
                continue
            kind, value = "date", dict(y=y, m=mo, d=d or None)
        elif kind == "yy":  # the latest such year that has begun
            y = 2000 + int(value["yy"])
            kind, value = "year", dict(y=y if y <= today.year else y - 100)
        elif kind in ("year", "bare"):
            y = number(value["y"])
            if not date.min.year <= y <= date.max.year:  # 0000年: no such year
                continue
            bare = kind == "bare"
            future = y > today.year and not ending(YEAR_CUE, text, m.start())
            if bare and (future or ending(NOT_A_YEAR_BEFORE, text, m.start())):
                continue
            if ending(BC, text, m.start()):  # 公元前2021年: 2021 BC
                continue
            kind, value = "year", dict(y=y)
        elif kind == "ago":
            n, unit = count(value["n"]), AGO_UNITS[value["u"].lower()]
            if n is None:
                continue
            if unit == "year" and n >= 1000:  # 2020年前: before 2020 (a year)
                if n not in YEARS:  # 3000年前: 3000 years ago, too far back: words
                    taken = m.end()
                continue
            try:
                shifted(unit, -n, today)
            except (ValueError, OverflowError):  # 3000 years ago: before any calendar here
                continue
            kind, value = unit, dict(rel=-n)
        elif kind == "relative":
            unit, offset, *weekday = RELATIVE[word]
            kind, value = unit, dict(rel=offset, weekday=weekday[0] if weekday else None)
        elif kind == "weekday":
            day = WEEKDAYS.get(value["wd"], "weekend")
            kind, value = "week", dict(rel=WEEK_PREFIXES[value["wp"]], weekday=day)
        elif kind == "festival":
            key = re.sub(r"['’]", "", word)
            value = dict(f=next(a for f, a in FESTIVALS.items() if f.replace("'", "") == key))
        elif kind == "season":
            value = dict(s=SEASONS[word])
        elif kind == "month":
            name = value.get("name", "").lower()
            mo = MONTHS[name] if name else number(value["m"])
            d = value.get("d") or value.get("d1") or value.get("d2")
            d = number(d) if d is not None else None
            # A month's name alone may be a name or a verb (June, may, march): only after a
            # preposition or last/this, or with a day or a year (checked in the grammar).
            alone = bool(name) and d is None and not ending(MONTH_CUE, text, m.start())
            value = dict(m=mo, d=d, alone=alone)
        elif kind == "day":
            value = dict(d=number(value["d"]))
        elif kind == "modifier":
            value = dict(w=MODIFIERS[value["w"].lower()])
        found.append((kind, value, m.start(), m.end()))
        taken = m.end()
    return [t for i, t in enumerate(found) if not _stray_day(text, found, i)]


def _stray_day(text: str, found: list, i: int) -> bool:
    """Whether token `i` is a day of the month (15号, the 15th) with no month said relative
    beside it: a day alone is words (2023号房间 is a room; 15号 alone, a number)."""
    kind, value, start, end = found[i]
    if kind != "day" or "d" not in value:
        return False
    for j, gap in ((i - 1, (found[i - 1][3], start) if i else None), (i + 1, None)):
        if 0 <= j < len(found):
            other = found[j]
            gap = gap or (end, other[2])
            if other[0] == "month" and "rel" in other[1] and JOINS.fullmatch(text, *gap):
                return False
    return True
