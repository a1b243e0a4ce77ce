"""Dates a query can be trusted with (issue 26): no query stalls the date parser, however long
or hostile, and a date at the top of the calendar (9999年12月31日) is that date, not another;
a year alone far from now is an age, not a date (1000年的古树, issue 27)."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest

from search.dates import phrases
from search.query import MAX_QUERY_CHARS, Query, parse

TODAY = date(2026, 11, 24)
LENGTH = 30_000  # 15 times what the product takes
SECONDS = 1.0  # the old parser took 2 s to 19 s on each (AMD EPYC); 0.01 s to 0.1 s now


def repeated(unit: str, n: int = LENGTH) -> str:
    return (unit * (n // len(unit) + 1))[:n]


HOSTILE = {
    "digits": "1" * LENGTH,
    "mixed": repeated("2019年 6月 and 12-3 2020年5月 - 1999 "),
    "years": "2019年" * (LENGTH // 5),
    "chinese numerals": "一" * LENGTH,  # 三年前 read from every digit
    "spaces after 19年": "19年" + " " * LENGTH + "x",  # \s* 的? \s* tried at every split
    "range words": repeated("2019 x - - - - "),  # each re-read what followed the year
    "open ends": repeated("after 2019 and before 2021 "),
    "words before years": repeated("since from taken in room 公元前 the 1998 "),
    "days of months said relative": repeated("上个月15号 the 15th of last month 去年今天 "),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_parsing_grows_with_the_length_of_the_query_not_its_square(name, monkeypatch):
    """With no limit on how far dates are read, a hostile query of 30 000 characters parses in
    a fraction of a second (measured 10 kB and 40 kB: 4x the time for 4x the text)."""
    monkeypatch.setattr(phrases, "MAX_QUERY_CHARS", 10**9)
    start = time.perf_counter()
    parse(HOSTILE[name], today=TODAY)
    assert time.perf_counter() - start < SECONDS


def test_dates_are_read_as_far_as_the_product_takes_a_query():
    """The rest of a longer text (the library refuses it anyway) is text, never a date."""
    padding = "猫 " * (MAX_QUERY_CHARS // 2)
    q = parse(padding + "2019年", today=TODAY)
    assert (q.text, q.after, q.before) == (padding + "2019年", None, None)
    q = parse("2019年 " + padding, today=TODAY)
    assert (q.text, q.after) == (padding.strip(), datetime(2019, 1, 1))
    start = time.perf_counter()
    for hostile in HOSTILE.values():
        parse(hostile, today=TODAY)
    assert time.perf_counter() - start < SECONDS


def last_days(typed: str) -> list[tuple[date | None, date | None]]:
    return [(first, last) for _, first, last in parse(typed, today=TODAY).days()]


def test_the_last_day_of_the_calendar_is_that_day():
    """Not this year's 31 December: the range runs to the end of time, which a `date` cannot
    hold the day after of (`before` is datetime.max, and the last day shown 9999-12-31)."""
    q = parse("9999年12月31日 烟花", today=TODAY)
    assert (q.text, q.after, q.before) == ("烟花", datetime(9999, 12, 31), datetime.max)
    assert last_days("9999年12月31日") == [(date(9999, 12, 31), date.max)]
    assert last_days("9999年12月") == [(date(9999, 12, 1), date.max)]
    assert last_days("9999年冬天") == [(date(9999, 12, 1), date.max)]  # runs out of calendar
    assert last_days("9999年跨年") == [(date(9999, 12, 31), date.max)]
    # 9999年 alone is a year too far from now to be one (below): a month or a day makes it one
    assert last_days("until 9999年12月") == [(None, date.max)]
    assert last_days("9999年12月31日以前") == [(None, date(9999, 12, 30))]


def test_a_range_to_the_last_year_keeps_both_years():
    q = parse("1900年到9999年", today=TODAY)
    assert (q.text, q.after, q.before) == ("", datetime(1900, 1, 1), datetime.max)
    assert last_days("9999年12月31日和2019年") == [
        (date(9999, 12, 31), date.max),
        (date(2019, 1, 1), date(2019, 12, 31)),
    ]


@pytest.mark.parametrize(
    "typed",
    [
        "0000年的猫",  # no year 0
        "10000年的猫",
        "after 9999年12月31日",  # no day after it
        "9999年12月到2月",  # no February 10000
        "3000年前的陶器",  # 3000 years ago: before any calendar here, as "3000 years ago"
        "6月99999999999999999999日",  # no such day (it was an OverflowError)
    ],
)
def test_dates_the_calendar_cannot_hold_stay_words(typed):
    assert parse(typed, today=TODAY) == Query(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "1000年的古树",  # a tree a thousand years old
        "5000年的文明",
        "9999年",
        "1799年的钟",
        "2201年",
        "since 1000年",
        "1000年以前",
        "1000年到5000年",  # neither end near now
        "1000年和2019年",  # and: two years, the first an age (so, as a day that is not, both words)
    ],
)
def test_a_year_alone_far_from_now_is_an_age(typed):
    """A year alone is a date within 1800 to 2200, as a bare year (2023) always was."""
    assert parse(typed, today=TODAY) == Query(typed)


def test_a_year_with_more_or_beside_a_near_one_is_any_year():
    """With a month, a day, a season or a festival it is a date, whatever the year; so is an end
    of a range whose other end is near now."""
    assert last_days("1800年") == [(date(1800, 1, 1), date(1800, 12, 31))]
    assert last_days("2200年") == [(date(2200, 1, 1), date(2200, 12, 31))]
    assert last_days("1000年6月") == [(date(1000, 6, 1), date(1000, 6, 30))]
    assert last_days("1000年6月15日") == [(date(1000, 6, 15), date(1000, 6, 15))]
    assert last_days("5000年的夏天") == [(date(5000, 6, 1), date(5000, 8, 31))]
    assert last_days("1000年到2020年") == [(date(1000, 1, 1), date(2020, 12, 31))]
    assert last_days("2020年到5000年") == [(date(2020, 1, 1), date(5000, 12, 31))]
    q = parse("1000年的古树 2019年", today=TODAY)  # the age stays words, the date is one
    assert (q.text, q.phrases) == ("1000年的古树", ("2019年",))
