"""The calendar a date phrase is resolved on, in no language: the day after 31 December 9999,
months and days added without overflowing, seasons, festivals (fixed, lunar, Easter), and a
unit offset from today (the month before this one, the Saturday of last week).

Ranges are half-open, (start, end) as dates: `end` is the first day not in it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from search.dates.lunar import LUNAR

SEASON_START = {"spring": 3, "summer": 6, "autumn": 9, "winter": 12}  # northern; 3 months each
SOUTH = {"spring": "autumn", "summer": "winter", "autumn": "spring", "winter": "summer"}
WEEKEND = 5  # Saturday and Sunday; weeks begin on Monday
UNITS = ("day", "week", "month", "year")


class _EndOfTime(date):
    """The day after 31 December 9999, which no `date` can be: the exclusive end of a range that
    runs to the end of the calendar (9999年12月31日). Later than every day; `as_datetime` makes
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
        return "END_OF_TIME"


END_OF_TIME = _EndOfTime()


def as_datetime(d: date | None) -> datetime | None:
    """Midnight of `d`; `datetime.max` for END_OF_TIME; None for None (an open end)."""
    if d is END_OF_TIME:
        return datetime.max
    return None if d is None else datetime(d.year, d.month, d.day)


def valid(y: int, m: int, d: int) -> bool:
    """Whether the calendar has that day."""
    try:
        date(y, m, d)
    except (ValueError, OverflowError):  # 6月99999999999999999999日: no day, nor a C int
        return False
    return True


def add_months(d: date, n: int) -> date:
    """The first of the month `n` months after `d`'s; past December 9999, the end of time."""
    months = d.year * 12 + d.month - 1 + n
    if months // 12 > date.max.year:
        return END_OF_TIME
    return date(months // 12, months % 12 + 1, 1)


def days_after(d: date, n: int) -> date:
    """`n` days after `d` (n >= 0); past 31 December 9999, the end of time."""
    try:
        return d + timedelta(days=n)
    except OverflowError:
        return END_OF_TIME


def month(y: int, m: int) -> tuple[date, date]:
    return date(y, m, 1), add_months(date(y, m, 1), 1)


def day(d: date) -> tuple[date, date]:
    return d, days_after(d, 1)


def year(y: int) -> tuple[date, date]:
    return date(y, 1, 1), add_months(date(y, 1, 1), 12)


def shifted(unit: str, offset: int, today: date, weekday: int | str | None = None):
    """The `unit` ("day", "week", "month" or "year") `offset` units from today's (-1: the one
    before), as (start, end); of a week, its `weekday` (0 Monday) or "weekend" where given.
    ValueError or OverflowError where the calendar has no such (3000 years ago)."""
    if unit == "day":
        return day(today + timedelta(days=offset))
    if unit == "week":
        start = today - timedelta(days=today.weekday()) + timedelta(days=7 * offset)
        if weekday is None:
            return start, start + timedelta(days=7)
        if weekday == "weekend":
            return start + timedelta(days=WEEKEND), start + timedelta(days=7)
        return day(start + timedelta(days=weekday))
    if unit == "month":
        start = add_months(today.replace(day=1), offset)
        return start, add_months(start, 1)
    if unit == "year":
        return year(today.year + offset)
    raise ValueError(f"a unit is one of {UNITS}, not {unit!r}")


def same_day_in(y: int, d: date) -> date:
    """`d`'s month and day in the year `y` (29 February in a year without one: the 28th)."""
    return date(y, d.month, d.day if valid(y, d.month, d.day) else 28)


def season(name: str, y: int | None, modifier: str, today: date, hemisphere: str = "north"):
    """The season `name` of the year `y` (winter: from its December into the next year), or,
    without a year, the latest that has begun ("last": the one before where today is in it);
    None for a season alone, which describes the look. `hemisphere` "south" swaps them."""
    first = SEASON_START[SOUTH[name] if hemisphere == "south" else name]

    def occurrence(y):
        start = date(y, first, 1)
        return start, add_months(start, 3)

    if y is not None:
        return occurrence(y)
    if not modifier:
        return None
    y = today.year
    while occurrence(y)[0] > today:
        y -= 1
    current = occurrence(y)
    if modifier == "last" and current[1] > today:  # "last summer", during a summer
        return occurrence(y - 1)
    return current


def festival(anchor: tuple, y: int | None, modifier: str, today: date):
    """A festival's days in the year `y`, or, without a year, the latest that has begun (as
    `season`). `anchor`: (month, day, days) with a Gregorian date, or (a table of LUNAR or
    "easter", days from that day, days). None beyond the lunar tables, or for a festival alone."""
    first, offset, days = anchor

    def occurrence(y):
        if isinstance(first, int):
            start = date(y, first, offset)
        elif first == "easter":
            start = easter(y)
        elif y in LUNAR[first]:
            mmdd = LUNAR[first][y]
            start = date(y, int(mmdd[:2]), int(mmdd[2:])) + timedelta(days=offset)
        else:
            return None
        return start, days_after(start, days)

    if y is not None:
        return occurrence(y)
    if not modifier:
        return None
    y = today.year
    while (o := occurrence(y)) is not None and o[0] > today:
        y -= 1
    if o is not None and modifier == "last" and o[1] > today:
        o = occurrence(y - 1)
    return o


def easter(y: int) -> date:
    """Easter Sunday of year `y`: the anonymous Gregorian algorithm (Meeus, Jones, Butcher)."""
    a, (b, c) = y % 19, divmod(y, 100)
    (d, e), f = divmod(b, 4), (b + 8) // 25
    h = (19 * a + b - d - (b - f + 1) // 3 + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m, d = divmod(h + weekday - 7 * ((a + 11 * h + 22 * weekday) // 451) + 114, 31)
    return date(y, m, d + 1)
