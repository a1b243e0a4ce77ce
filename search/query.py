"""What a typed query means: the date phrases in it (Chinese or English) as a date range, and the
rest as the text to embed.

    parse("2023年夏天 海边")               -> Query("海边", 2023-06-01, 2023-09-01)
    parse("去年的猫", today=2026-11-24)     -> Query("猫", 2025-01-01, 2026-01-01)
    parse("beach photos from last summer") -> Query("beach photos", <last June 1>, <September 1>)

Ranges are half-open, [after, before), as `Library.search` filters (`after` inclusive, `before`
exclusive). What is understood:

- years (2023, 2023年, 二〇二三年; 19年 before a season, a month or a festival: 19年夏天), months
  (2023年6月, June 2023, in June, 6月), days (2023年6月15日, June 15, 2023-06-15); a month or day
  without a year is the latest one that has begun;
- seasons with a year or a relative word (2023年夏天, 2023年夏, 去年冬天, summer 2023, last
  summer): spring March-May, summer June-August, autumn September-November, winter December to
  February (the winter of 2023 begins in December 2023); `hemisphere="south"` swaps them;
- relative phrases: 今年 去年 前年 大前年 上上个月 上个月 这个月 上周 这周 上周六 上周末 昨天 前天
  今天 N天前 N年前, this year, last year, the year before last, last/this month, last/this week,
  last/this weekend, yesterday, today, N days (weeks, months, years) ago; weeks begin on Monday;
- ranges: 2019到2021年, 2023年3月至5月, from 2018 to 2020, between 2018 and 2020, June to August
  2023 (a side without a year takes the other's; two years the wrong way round, "from 2025 to
  2018", are read the right way; months without one, 12月到2月 or "from December to February",
  are the latest such stretch that has begun); open ones: since 2020, 2020年以来, 2021年至今,
  from 2021 onwards, 2021 to now; before 2020, 2020年以前, 2020年前; until 2020, 到2020年为止,
  截至2020年 (2020 included); after a festival, 2020年春节后;
- festivals with a year or a relative word: 圣诞节 / Christmas (24-25 December), 平安夜 / Christmas
  Eve, 元旦 / New Year's Day, 跨年 / New Year's Eve, 情人节 / Valentine's Day, 万圣节 / Halloween,
  劳动节 / 五一 (1-5 May), 国庆 (1-7 October), Easter (computed); and from the tables of lunar
  dates below (1990-2050): 春节 / Chinese (Lunar) New Year (除夕 to the sixth day), 除夕, 元宵节 /
  Lantern Festival, 端午节 / Dragon Boat Festival, 七夕 / Qixi, 中秋节 / Mid-Autumn Festival.

Left in the text, because they describe the look as much as the date: a season or festival
without a year ("夏天的海边", "Christmas tree"), decades ("the 1990s look", "90年代"). A number is
not a year when it is part of a word, a name or a longer number (2023号房间, room 2023, v2023,
2023x, 12023年), nor, written without 年, when it lies in the future. With 年, a year is any the
calendar has, 1 to 9999: 9999年12月31日 is that day, and a range that runs to the end of 9999
ends at `datetime.max`. A day, month or year that does not exist (2023年2月29日, 2021年13月,
6月0日, 0000年, after 9999年12月31日), a year BC (公元前2021年) or too far back to count (3000
years ago, 3000年前) leaves the whole phrase as typed.
Full-width digits (２０２１年) are digits. Several date phrases (2019年和2021年, "2019 and
2021") are each a range, in `ranges`; `after` and `before` span them all; after "and", a
month takes the year of the phrase before it (2023年6月和7月), a season that of a season
(2018年的夏天和秋天). Two phrases at most: a third (2018年夏天和秋天和冬天) stays words.

Dates are read in the first MAX_QUERY_CHARS characters (the rest stays text), in a time that
grows with the length of the text, not its square: no pattern is retried from every digit of a
number or every space of a run, and the words before a phrase are looked for just before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta


def _table(days: str) -> dict[int, str]:
    return dict(zip(range(1990, 2051), days.split(), strict=True))


# Days of the lunar calendar, 1990-2050, as MMDD of the Gregorian year (computed once with a lunar
# calendar library, which agreed with this first table, typed from published dates).
LUNAR_NEW_YEAR = _table(  # 1st of the 1st month: 春节
    """0127 0215 0204 0123 0210 0131 0219 0207 0128 0216 0205 0124 0212 0201 0122 0209 0129
    0218 0207 0126 0214 0203 0123 0210 0131 0219 0208 0128 0216 0205 0125 0212 0201 0122
    0210 0129 0217 0206 0126 0213 0203 0123 0211 0131 0219 0208 0128 0215 0204 0124 0212
    0201 0122 0210 0130 0217 0206 0126 0214 0202 0123"""
)
DRAGON_BOAT = _table(  # 5th of the 5th month: 端午节
    """0528 0616 0605 0624 0613 0602 0620 0609 0530 0618 0606 0625 0615 0604 0622 0611 0531
    0619 0608 0528 0616 0606 0623 0612 0602 0620 0609 0530 0618 0607 0625 0614 0603 0622
    0610 0531 0619 0609 0528 0616 0605 0624 0612 0601 0620 0610 0530 0618 0607 0527 0614
    0603 0622 0611 0531 0619 0608 0529 0615 0604 0623"""
)
QIXI = _table(  # 7th of the 7th month: 七夕
    """0826 0816 0805 0824 0813 0802 0820 0809 0828 0817 0806 0825 0815 0804 0822 0811 0731
    0819 0807 0826 0816 0806 0823 0813 0802 0820 0809 0828 0817 0807 0825 0814 0804 0822
    0810 0829 0819 0808 0826 0816 0805 0824 0812 0801 0820 0810 0828 0817 0807 0826 0814
    0803 0822 0811 0731 0819 0808 0827 0816 0805 0823"""
)
MID_AUTUMN = _table(  # 15th of the 8th month: 中秋节
    """1003 0922 0911 0930 0920 0909 0927 0916 1005 0924 0912 1001 0921 0911 0928 0918 1006
    0925 0914 1003 0922 0912 0930 0919 0908 0927 0915 1004 0924 0913 1001 0921 0910 0929
    0917 1006 0925 0915 1003 0922 0912 1001 0919 0908 0927 0916 1004 0924 0913 1002 0920
    0910 0928 0917 1005 0925 0915 1004 0922 0911 0930"""
)
LUNAR = {
    "new year": LUNAR_NEW_YEAR,
    "dragon boat": DRAGON_BOAT,
    "qixi": QIXI,
    "mid-autumn": MID_AUTUMN,
}

SEASON_START = {"spring": 3, "summer": 6, "autumn": 9, "winter": 12}  # northern; 3 months each
SOUTH = {"spring": "autumn", "summer": "winter", "autumn": "spring", "winter": "summer"}
CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
NUMBER_WORDS = "one two three four five six seven eight nine ten".split()
MONTHS = "january february march april may june july august september october november december"
MONTH_NAMES = {name: i + 1 for i, name in enumerate(MONTHS.split())}
MONTH_NAMES |= {name[:3]: i for name, i in MONTH_NAMES.items()} | {"sept": 9}


# Dates are read in this much of a query at most: the longest the product takes (the page's
# limit; search.library's clean_query refuses a longer one, with this number).
MAX_QUERY_CHARS = 2000


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


_INSTANT = timedelta(microseconds=1)


class _EndOfTime(date):
    """The day after 31 December 9999, which no `date` can be: the exclusive end of a range that
    runs to the end of the calendar (9999年, 9999年12月31日). Later than every day; `_dt` makes
    it `datetime.max`, the last instant a `before` can leave out."""

    def __new__(cls):
        return super().__new__(cls, date.max.year, date.max.month, date.max.day)

    def __eq__(self, other):
        return other is self

    def __ne__(self, other):
        return other is not self

    def __lt__(self, other):
        return False

    def __le__(self, other):
        return other is self

    def __gt__(self, other):
        return other is not self

    def __ge__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return "_END_OF_TIME"


_END_OF_TIME = _EndOfTime()


# -- tokens ---------------------------------------------------------------------------------
# Each date word found is a token: (kind, value, start, end). Kinds: year, ago (a whole year N
# back), month, day, season, festival, span (a fixed range: yesterday, last week...), last/this
# (modifiers of the next season, festival or month), and the range words.

_CN_DIGIT = r"[〇零一二两三四五六七八九十]"
# A number from its first digit: tried from every digit of a long one, it would cost the square
_NUM = rf"(?:(?<!\d)\d+|(?<!{_CN_DIGIT}){_CN_DIGIT}+)"
_EN_NUM = r"\d+|" + "|".join(NUMBER_WORDS) + r"|a|an"
_AGO_UNITS = {"day": "day", "week": "week", "month": "month", "year": "year"}
_CN_UNITS = {"天": "day", "日": "day", "周": "week", "星期": "week", "个月": "month", "年": "year"}
_FESTIVALS = {
    # name -> (month, day, days) with a Gregorian date, or (LUNAR's or "easter", days from
    # that day, days)
    "christmas eve": (12, 24, 1),
    "平安夜": (12, 24, 1),
    "christmas": (12, 24, 2),
    "xmas": (12, 24, 2),
    "圣诞节": (12, 24, 2),
    "圣诞": (12, 24, 2),
    "new year's eve": (12, 31, 2),
    "跨年": (12, 31, 2),
    "new year's day": (1, 1, 1),
    "new year": (1, 1, 1),
    "元旦": (1, 1, 1),
    "valentine's day": (2, 14, 1),
    "情人节": (2, 14, 1),
    "halloween": (10, 31, 1),
    "万圣节": (10, 31, 1),
    "劳动节": (5, 1, 5),
    "五一": (5, 1, 5),
    "国庆节": (10, 1, 7),
    "国庆": (10, 1, 7),
    "chinese new year": ("new year", -1, 7),  # 除夕 to the sixth day
    "lunar new year": ("new year", -1, 7),
    "spring festival": ("new year", -1, 7),
    "春节": ("new year", -1, 7),
    "过年": ("new year", -1, 7),
    "除夕": ("new year", -1, 1),
    "lantern festival": ("new year", 14, 1),
    "元宵节": ("new year", 14, 1),
    "元宵": ("new year", 14, 1),
    "dragon boat festival": ("dragon boat", 0, 1),
    "端午节": ("dragon boat", 0, 1),
    "端午": ("dragon boat", 0, 1),
    "qixi": ("qixi", 0, 1),
    "七夕": ("qixi", 0, 1),
    "mid-autumn festival": ("mid-autumn", 0, 1),
    "moon festival": ("mid-autumn", 0, 1),
    "中秋节": ("mid-autumn", 0, 1),
    "中秋": ("mid-autumn", 0, 1),
    "easter": ("easter", 0, 1),
}
_SEASONS = {"spring": "spring", "summer": "summer", "autumn": "autumn", "fall": "autumn"}
_SEASONS |= {"winter": "winter", "春": "spring", "夏": "summer", "秋": "autumn", "冬": "winter"}
_A = r"(?<![A-Za-z0-9_])"  # an English word begins here (CJK characters may touch it)
_Z = r"(?![A-Za-z0-9_])"

_CN_FESTIVALS = "|".join(sorted((f for f in _FESTIVALS if not f.isascii()), key=len, reverse=True))
_EN_FESTIVALS = "|".join(
    re.escape(f).replace("'", "['’]?")
    for f in sorted((f for f in _FESTIVALS if f.isascii()), key=len, reverse=True)
)
_MONTH_NAMES = "|".join(sorted(MONTH_NAMES, key=len, reverse=True))
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_CN_DAY = r"(?:[12]\d|3[01]|0?[1-9]|[二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_CN_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_WORD_ENDS = r"(?=$|[\s,，。、;；的拍和与或及])"  # a Chinese word ends here: 2021年夏, not 夏至
_DAY_ENDS = r"(?=$|[\s,，。、;；的拍和与或及早晚上下中凌到至去在了])"  # 上周六晚上, not 上周六合彩
# After a bare number, these make it a count, a price, a room or a time, not a year.
_NOT_YEAR_AFTER = r"年|号|室|房|层|楼|路|元|块|米|个|张|次|件|届|级|班|岁|克|分|点|:|\.\d"

# (kind, pattern), matched case-insensitively (re.VERBOSE: spaces in a pattern are \s).
_TOKENS = [
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
        r"(?P<y>(?<!\d)\d{4}|[〇零一二三四五六七八九]{4}) \s* 年"
        r"(?!代|级|龄|纪|\s*(?:0+|1[3-9]|[2-9]\d)\s*月)",
    ),
    # 19年夏天, 23年国庆, 21年5月: a year by its last two digits, where a season, a month or a
    # festival follows (19年 alone may be nineteen years)
    (
        "year",
        rf"(?<![\w.]) (?P<yy>\d\d) \s* 年"
        rf"(?= \s* (?:的\s*)? (?:[春夏秋冬] | (?:1[0-2]|0?[1-9]) \s* 月 | {_CN_FESTIVALS}))",
    ),
    ("ago", rf"(?P<n>{_NUM}) \s* (?P<u>天|日|周|星期|个月|年) 前"),
    ("ago", rf"{_A} (?P<n>{_EN_NUM}) \s+ (?P<u>day|week|month|year)s? \s+ ago {_Z}"),
    (
        "span",
        rf"(?:上上|上|这|本)个?(?:周|星期|礼拜)[一二三四五六日天末]{_DAY_ENDS}"  # 上周六, 上周末
        r"|今天|大前天|昨天|前天|上上周|上周|这周|本周|上个?星期|这个?星期|上个?礼拜|上上个月"
        r"|上个月|这个月|本月",
    ),
    (
        "span",
        rf"{_A} (?:the\s+day\s+before\s+yesterday|yesterday|today|last\s+week(?:end)?"
        rf"|this\s+week(?:end)?|last\s+month|this\s+month) {_Z}",
    ),
    ("relyear", r"今年|去年|大前年|前年"),
    ("relyear", rf"{_A} (?:the\s+year\s+before\s+last|last\s+year|this\s+year) {_Z}"),
    ("festival", _CN_FESTIVALS),
    ("festival", rf"{_A} (?:{_EN_FESTIVALS}) {_Z}"),
    ("season", r"(?P<s>[春夏秋冬]) (?:天|季)"),
    # 2021年夏, not 2021年夏至 nor 2022年冬奥会: the season word ends there
    ("season", rf"(?<=年) (?P<s>[春夏秋冬]) {_WORD_ENDS}"),
    ("season", rf"{_A} (?P<s>spring|summer|autumn|fall|winter) {_Z}"),
    # 6月, 十二月, 6月15日, 6月份
    (
        "month",
        rf"(?<![\d〇零一二三四五六七八九十个]) (?P<m>{_CN_MONTH}) \s* 月份?"
        rf"(?: (?P<d>\d+|{_CN_DAY}) \s* [日号])?",
    ),
    # June, Jun., June 15, 15 June, 15th of June
    (
        "month",
        rf"{_A} (?:(?P<d1>{_DAY}) (?:st|nd|rd|th)? \s+ (?:of\s+)?)? (?P<name>{_MONTH_NAMES})"
        rf"\.? (?: \s+ (?P<d2>{_DAY}) (?:st|nd|rd|th)? {_Z} (?!\s*:))? {_Z}",
    ),
    ("modifier", rf"{_A} (?P<w>last|this|past) {_Z}"),
    # a bare year: 2023, not v2023, 2023x, #2023, 2023号, 2023.5
    (
        "year",
        rf"(?<![A-Za-z0-9_.#/:$¥€£]) (?P<y>(?:19|20)\d\d)"
        rf"(?![A-Za-z0-9_%]|-[A-Za-z]|\s*(?:{_NOT_YEAR_AFTER}))",  # not 2019-nCoV
    ),
    ("to", rf"到|至|~|～|-|–|—|和|与|及|、|{_A} (?:to|until|till|through|thru|and) {_Z}"),
]
_TOKEN_RES = [(kind, re.compile(p, re.IGNORECASE | re.VERBOSE)) for kind, p in _TOKENS]
# Not a year after these: a room, a number, a model.
_NOT_A_YEAR_BEFORE = re.compile(
    r"(?:room|no\.?|number|page|flight|route|bus|model|#|第|编号)\s*$", re.I
)
_BC = re.compile(r"公元前\s*$")
# N年前 with a year N of these is before that year (2020年前), else N years ago (3000年前)
_YEARS_BEFORE = range(1800, 2201)
_BEFORE_PHRASE = re.compile(
    r"(?:\b(?:taken|shot)\s+)?(?:\b(?:in|from|during|on|of|at|since|after|before|between)|从|自从|自|在|于)\s*$"
    r"|\b(?:taken|shot)\s*$",
    re.I,
)
_AFTER_PHRASE = re.compile(
    r"\s*(?:['’]s\b|以来|以后|之后|以前|之前|之间|期间|的时候|时候|那天|拍摄的|拍的|的|时)+"
)
_MONTH_CUE = re.compile(
    r"\b(?:in|of|since|from|between|during|until|till|before|after|last|this|past)\s+$", re.I
)
# Words that leave one end of a phrase's range open: before it, or after it.
_OPEN_BEFORE = re.compile(
    r"(?:\b(?:since|after|before|until|till|up\s+to)|从|自从|自|直到|截至|截止到?|到)\s*$", re.I
)
_OPEN_AFTER = re.compile(
    rf"\s*(?:以来|以后|之后|以前|之前|[前后]{_WORD_ENDS}|至今|到现在|为止"
    r"|(?:up\s+)?(?:to|until|till)\s+(?:now|today|date)\b|onwards?\b)",
    re.I,
)
# What may lie between the tokens of one phrase (2023年 的 夏天, summer of 2023, 2023's summer)
_JOINS = re.compile(r"[\s,，]*(?:(?:的|of|['’]s)[\s,，]*)?", re.I)
_AND = re.compile(r"(?:\band|和|与|及|、)\s*$", re.I)
_BETWEEN, _BETWEEN_AFTER = re.compile(r"\bbetween\s+$", re.I), re.compile(r"\s*之间")
_CONNECTOR = re.compile(r"\s*(?:(?:和|与|及|或|、|,|，|\band\b|\bor\b)\s*)?", re.I)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_SINCE = set("since onward onwards 从 自从 自 以来 以后 之后 后 至今 到现在".split())
_UNTIL = set("until till 到 直到 截至 截止 截止到 为止".split()) | {"up to"}  # the end included
_BEFORE = set("before 以前 之前 前".split())


def parse(text: str, today: date | datetime | None = None, hemisphere: str = "north") -> Query:
    """The date phrases of `text` as a range, and the text without them.

    Args:
        text: a query as typed, in Chinese or English (or both).
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
    groups = _groups(head, _tokens(head, today), today, hemisphere)
    ranges, cut, spans = [], [], []
    for start, end, after, before, ranged in groups:
        lead = _ending(_OPEN_BEFORE, head, start)
        tail = _OPEN_AFTER.match(head, end)
        word = " ".join(((lead or tail).group() if lead or tail else "").lower().split())
        if ranged or word == "":  # 从2018到2020: a range says both its ends
            pass
        elif word in _SINCE or re.fullmatch(r"(?:up )?(?:to|until|till) \w+", word):
            before = None  # since 2020, 2020年至今, 2021 to now
        elif word == "after":
            after, before = before, None
        elif word in _UNTIL:
            after = None
        elif word in _BEFORE:
            after, before = None, after
        if after is _END_OF_TIME:  # after 9999: no day is, so not a date
            continue
        ranges.append((after, before))
        first = lead.start() if lead else start  # the phrase with its open ends, as typed
        last = tail.end() if tail else end
        spans.append((first, last))
        pre = _ending(_BEFORE_PHRASE, head, first)  # and the words around it that go too
        post = _AFTER_PHRASE.match(head, last)
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
        if not (i and _CONNECTOR.fullmatch(between)):  # 2019年和2021年: the 和 goes too
            rest.append(between)
        last = b
    rest.append(text[last:])
    remaining = re.sub(r"\s+", " ", " ".join(rest)).strip(" ,，、。.;；:：")
    ranges = tuple((_dt(a), _dt(b)) for a, b in ranges)
    return Query(remaining, _dt(after), _dt(before), phrases, ranges)


def _ending(pattern: re.Pattern, text: str, end: int) -> re.Match | None:
    """`pattern.search(text[:end])`, for a pattern that ends the text ($) with a few short words
    and the spaces around them (since, taken in, up to, room, 公元前): searched only from where
    those can begin, so that it costs the same at the end of a long query as of a short one."""
    start = end
    for _ in range(3):  # three words at most, of 16 characters at most, each after its spaces
        while start and text[start - 1].isspace():
            start -= 1
        start = max(0, start - 16)
    return pattern.search(text, start, end)  # lookbehinds and \b still see text[:start]


def _tokens(text: str, today: date) -> list[tuple[str, dict, int, int]]:
    # Every pattern's matches; where they overlap, the earliest, then the longest, wins.
    candidates = sorted(
        (
            (m.start(), -m.end(), i, kind, m)
            for i, (kind, r) in enumerate(_TOKEN_RES)
            for m in r.finditer(text)
        ),
        key=lambda c: c[:3],
    )
    found, taken = [], 0
    for start, _, _, kind, m in candidates:
        if start < taken or not m.group():
            continue
        value = {k: v for k, v in m.groupdict().items() if v}
        word = m.group().lower()
        if kind == "iso":
            y, mo, d = int(value["y"]), int(value["m"]), int(value.get("d") or 0)
            if not 1 <= mo <= 12 or d and not _valid(y, mo, d):
                continue
            kind, value = "date", dict(y=y, m=mo, d=d or None)
        elif kind == "year" and "yy" in value:  # the latest such year that has begun
            y = 2000 + int(value["yy"])
            value = dict(y=y if y <= today.year else y - 100)
        elif kind == "year":
            y = _number(value["y"])
            bare = "年" not in word
            if not date.min.year <= y <= date.max.year:  # 0000年: no such year
                continue
            if bare and (y > today.year or _ending(_NOT_A_YEAR_BEFORE, text, m.start())):
                continue
            if _ending(_BC, text, m.start()):  # 公元前2021年: 2021 BC
                continue
            value = dict(y=y)
        elif kind == "ago":
            n, unit = _count(value["n"]), _CN_UNITS.get(value["u"], value["u"].lower())
            if n is None:
                continue
            if unit == "year" and n >= 1000:  # 2020年前: before 2020 (a year)
                if n not in _YEARS_BEFORE:  # 3000年前: 3000 years ago, too far back: words
                    taken = m.end()
                continue
            try:
                _ago(n, unit, today)
            except (ValueError, OverflowError):  # 3000 years ago: before any calendar here
                continue
            value = dict(n=n, unit=unit)
        elif kind == "relyear":
            offset = {"今年": 0, "去年": 1, "前年": 2, "大前年": 3, "this year": 0, "last year": 1}
            value = dict(y=today.year - offset.get(" ".join(word.split()), 2))
            kind = "year"
        elif kind == "span":
            value = dict(span=_span(" ".join(word.split()), today))
        elif kind == "festival":
            key = re.sub(r"['’]", "'", " ".join(word.split()))
            key = next(f for f in _FESTIVALS if f.replace("'", "") == key.replace("'", ""))
            value = dict(f=key)
        elif kind == "season":
            value = dict(s=_SEASONS[value["s"].lower()])
        elif kind == "month":
            name = value.get("name", "").lower()
            mo = MONTH_NAMES[name] if name else _number(value["m"])
            d = value.get("d") or value.get("d1") or value.get("d2")
            d = _number(d) if d is not None else None
            # A month's name alone may be a name or a verb (June, may, march): only after a
            # preposition or last/this, or with a day or a year (checked in _groups).
            if name and d is None:
                value["alone"] = not _ending(_MONTH_CUE, text, m.start())
            value = dict(m=mo, d=d, alone=value.get("alone", False))
        found.append((kind, value, m.start(), m.end()))
        taken = m.end()
    return found


def _groups(text, tokens, today, hemisphere):
    """Adjacent tokens (separated by nothing, spaces, 的, of, commas or 's) joined into phrases,
    each resolved to a range; two phrases joined by a range word become one. Returns (start,
    end, after, before, whether it is such a range) per phrase; two joined by "and" (和, 、)
    stay two, unless "between" (之间) says they are a range."""
    phrases: list[list] = []  # [start, end, fields]
    skipped = False  # a range word left out since the last phrase: nothing joins it past that
    for kind, value, start, end in tokens:
        fields = phrases[-1][2] if phrases else None
        joinable = phrases and not skipped and _JOINS.fullmatch(text, phrases[-1][1], start)
        if kind == "to":
            if phrases and joinable and "to" not in fields and fields.get("resolved") is not False:
                phrases[-1][1] = end
                fields["to"] = (start, end)
            else:
                skipped = True
            continue
        skipped = False
        if joinable and "to" in fields:  # the other end of a range
            fields.setdefault("other", {})
            target = fields["other"]
        elif joinable and _fits(fields, kind, value):
            target = fields
        else:
            phrases.append([start, end, {}])
            target = phrases[-1][2]
        if kind in target or kind == "date" and ("year" in target or "month" in target):
            phrases.append([start, end, {}])
            target = phrases[-1][2]
        target[kind] = value
        phrases[-1][1] = end
    out = []
    for start, end, fields in phrases:
        if "to" in fields and "other" not in fields:
            end = fields["to"][0]  # a dangling range word is text
        other = fields.pop("other", None)
        first = _resolve(fields, today, hemisphere, other)
        if first is None:
            continue
        if other is not None and _two(text, fields, start, end):  # "2019 and 2021": both
            out.append((start, fields["to"][0], *first, False))
            # 2023年6月和7月: July 2023; 2018年的夏天和秋天: the autumn of 2018
            seasons = other.keys() == {"season"} and "season" in fields
            alone = other.keys() == {"month"} or seasons
            second = _resolve(other, today, hemisphere, fields if alone else None)
            if second is not None:  # not "2019 and christmas tree"
                out.append((fields["to"][1], end, *second, False))
            continue
        if other is not None:
            second = _resolve(other, today, hemisphere, fields)
            both_years = "year" in other and "year" in fields  # "from 2025 to 2018"
            if both_years and second is not None and second[1] <= first[0]:
                first, second = second, first
            if second is not None and _months_alone(fields, other):
                # 12月到2月, 11月到12月, 5月1日到6月1日: the end follows the start within a year
                later = other["month"]["m"] < fields["month"]["m"]
                again = dict(other, year=dict(y=first[0].year + later))
                second = _resolve(again, today, hemisphere, fields)
            elif second is not None and second[1] <= first[0] and _earlier_month(other, fields):
                # 2019年12月到2月, "November 2023 to March": the end month in the next year
                again = dict(other, year=dict(y=first[0].year + 1))
                second = _resolve(again, today, hemisphere, fields)
            elif second is not None and second[1] <= first[0] and "year" in other.keys() - fields:
                # 12月到2020年2月: the start's year is the one before the end's
                again = dict(fields, year=dict(y=second[0].year - 1))
                first = _resolve(again, today, hemisphere, other) or first
            if second is None or second[1] <= first[0]:
                continue
            first = (first[0], second[1])
        out.append((start, end, *first, other is not None))
    return out


def _two(text: str, fields: dict, start: int, end: int) -> bool:
    """Whether the range word is "and" (和, 与, 及, 、) without "between" (之间) around the two:
    "2019 and 2021", 2019年和2021年 are two phrases; "between 2019 and 2021" one range."""
    joined = _ending(_AND, text, fields["to"][1])
    between = _ending(_BETWEEN, text, start) or _BETWEEN_AFTER.match(text, end)
    return bool(joined) and not between


def _earlier_month(other: dict, fields: dict) -> bool:
    """Whether `other` is a month alone (a day of it too) before the month of `fields`."""
    month = fields.get("month", {}).get("m", 0)
    return other.keys() == {"month"} and other["month"]["m"] < month


def _months_alone(fields: dict, other: dict) -> bool:
    """Whether both ends of a range are a month or a day of one (12月到2月, 5月1日到6月1日), with
    no year or modifier."""
    return all(f.keys() - {"to"} == {"month"} for f in (fields, other))


def _fits(fields: dict, kind: str, value: dict) -> bool:
    """Whether a token adds to the phrase before it (2023年 + 夏天, last + summer, June + 2023)."""
    if kind in fields or "span" in fields or "ago" in fields or kind in ("span", "ago"):
        return False
    if "date" in fields or kind == "date":
        return False
    if kind == "year":
        return any(k in fields for k in ("month", "season", "festival", "modifier"))
    if "modifier" in fields:
        return kind in ("season", "festival", "month")
    if kind == "modifier":
        return False
    return "year" in fields and not any(k in fields for k in ("month", "season", "festival"))


def _resolve(fields: dict, today: date, hemisphere: str, other: dict | None = None):
    """[start, end) of a phrase's fields, or None where they do not make a date range."""
    if "span" in fields:
        return fields["span"]["span"]
    if "ago" in fields:
        return _ago(fields["ago"]["n"], fields["ago"]["unit"], today)
    if "date" in fields:
        d = fields["date"]
        if d["d"]:
            start = date(d["y"], d["m"], d["d"])
            return start, _days_after(start, 1)
        return date(d["y"], d["m"], 1), _next_month(d["y"], d["m"])
    year = fields.get("year", {}).get("y")
    if year is None and other is not None:
        year = other.get("year", {}).get("y")
    if year is not None and not date.min.year <= year <= date.max.year:
        return None  # 9999年12月到2月: no February after December 9999
    modifier = fields.get("modifier", {}).get("w", "").lower()
    if "season" in fields:
        season = fields["season"]["s"]
        if hemisphere == "south":
            season = SOUTH[season]
        return _season(season, year, modifier, today)
    if "festival" in fields:
        return _festival(fields["festival"]["f"], year, modifier, today)
    if "month" in fields:
        mo, d = fields["month"]["m"], fields["month"]["d"]
        said = other is not None and not other.get("month", {}).get("alone", True)
        if fields["month"].get("alone") and year is None and not modifier and not said:
            return None  # "June" alone; "from December to February" is a range of months
        if not 1 <= mo <= 12:
            return None
        if year is None:  # the latest that has begun; "last June" in June: a year before
            year = today.year if date(today.year, mo, 1) <= today else today.year - 1
            if modifier in ("last", "past") and (year, mo) == (today.year, today.month):
                year -= 1
        if d is not None:
            if not _valid(year, mo, d):
                return None
            return date(year, mo, d), _days_after(date(year, mo, d), 1)
        return date(year, mo, 1), _next_month(year, mo)
    if year is not None and not modifier:
        return date(year, 1, 1), _add_months(date(year, 1, 1), 12)
    return None


def _season(season: str, year: int | None, modifier: str, today: date):
    first = SEASON_START[season]

    def occurrence(y):  # the season of year y; winter (from December) runs into y + 1
        start = date(y, first, 1)
        return start, _add_months(start, 3)

    if year is not None:
        return occurrence(year)
    if not modifier:
        return None  # a season alone describes the look
    y = today.year
    while occurrence(y)[0] > today:
        y -= 1
    current = occurrence(y)  # the latest that has begun
    if modifier in ("last", "past") and current[1] > today:  # "last summer", during a summer
        return occurrence(y - 1)
    return current


def _festival(name: str, year: int | None, modifier: str, today: date):
    anchor, offset, days = _FESTIVALS[name]  # a month and day, or a movable day and days after

    def occurrence(y):
        if isinstance(anchor, int):
            start = date(y, anchor, offset)
        elif anchor == "easter":
            start = _easter(y)
        elif y in LUNAR[anchor]:
            mmdd = LUNAR[anchor][y]
            start = date(y, int(mmdd[:2]), int(mmdd[2:])) + timedelta(days=offset)
        else:
            return None
        return start, _days_after(start, days)

    if year is not None:
        return occurrence(year)
    if not modifier:
        return None  # a festival alone describes the look
    y = today.year
    while (o := occurrence(y)) is not None and o[0] > today:
        y -= 1
    if o is not None and modifier in ("last", "past") and o[1] > today:
        o = occurrence(y - 1)
    return o


def _easter(y: int) -> date:
    """Easter Sunday of year `y`: the anonymous Gregorian algorithm (Meeus, Jones, Butcher)."""
    a, (b, c) = y % 19, divmod(y, 100)
    (d, e), f = divmod(b, 4), (b + 8) // 25
    h = (19 * a + b - d - (b - f + 1) // 3 + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    month, day = divmod(h + weekday - 7 * ((a + 11 * h + 22 * weekday) // 451) + 114, 31)
    return date(y, month, day + 1)


def _span(word: str, today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    day = {"今天": 0, "today": 0, "昨天": 1, "yesterday": 1, "前天": 2}
    day |= {"the day before yesterday": 2, "大前天": 3}
    if word in day:
        start = today - timedelta(days=day[word])
        return start, start + timedelta(days=1)
    weekend = word.endswith(("weekend", "末"))
    if weekend or word[-1] in "一二三四五六日天" and word[-2] in "周期拜":  # 上周六, last weekend
        back = 2 if word.startswith("上上") else 1 if word.startswith(("上", "last")) else 0
        day = 5 if weekend else "一二三四五六日".index(word[-1].replace("天", "日"))
        start = monday + timedelta(days=day - 7 * back)
        return start, start + timedelta(days=2 if weekend else 1)
    if word in ("上上周",):
        return monday - timedelta(days=14), monday - timedelta(days=7)
    if (
        word.startswith("上")
        and ("周" in word or "星期" in word or "礼拜" in word)
        or word == "last week"
    ):
        return monday - timedelta(days=7), monday
    if word == "上上个月":
        return _add_months(month, -2), _add_months(month, -1)
    if word in ("上个月", "last month"):
        return _add_months(month, -1), month
    if word in ("这个月", "本月", "this month"):
        return month, _add_months(month, 1)
    return monday, monday + timedelta(days=7)  # this week, 这周, 本周


def _ago(n: int, unit: str, today: date) -> tuple[date, date]:
    """ "3 days ago" is that day; "2 years ago" that whole year; weeks and months likewise."""
    if unit == "day":
        start = today - timedelta(days=n)
        return start, start + timedelta(days=1)
    if unit == "week":
        start = today - timedelta(days=today.weekday() + 7 * n)
        return start, start + timedelta(days=7)
    if unit == "month":
        start = _add_months(today.replace(day=1), -n)
        return start, _add_months(start, 1)
    return date(today.year - n, 1, 1), date(today.year - n + 1, 1, 1)


def _number(s: str) -> int:
    """An Arabic or Chinese numeral: 2023, 二〇二三, 十二, 二十五."""
    if s.isdigit():
        return int(s)
    if "十" not in s:
        return int("".join(str(CN_DIGITS[c]) for c in s))
    tens, _, ones = s.partition("十")
    return (CN_DIGITS[tens] if tens else 1) * 10 + (CN_DIGITS[ones] if ones else 0)


def _count(s: str) -> int | None:
    s = s.lower()
    if s in ("a", "an"):
        return 1
    if s in NUMBER_WORDS:
        return NUMBER_WORDS.index(s) + 1
    try:
        return _number(s)
    except (KeyError, ValueError):
        return None


def _valid(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except (ValueError, OverflowError):  # 6月99999999999999999999日: no day, nor a C int
        return False
    return True


def _add_months(d: date, n: int) -> date:
    """The first of the month `n` months after `d`'s; past December 9999, the end of time."""
    months = d.year * 12 + d.month - 1 + n
    if months // 12 > date.max.year:
        return _END_OF_TIME
    return date(months // 12, months % 12 + 1, 1)


def _days_after(d: date, n: int) -> date:
    """`n` days after `d` (n >= 0); past 31 December 9999, the end of time."""
    try:
        return d + timedelta(days=n)
    except OverflowError:
        return _END_OF_TIME


def _next_month(y: int, m: int) -> date:
    return _add_months(date(y, m, 1), 1)


def _dt(d: date | None) -> datetime | None:
    if d is _END_OF_TIME:
        return datetime.max
    return None if d is None else datetime(d.year, d.month, d.day)
