"""Tokens (search.dates.tokens) joined into phrases, each resolved to a range of days.

Adjacent tokens (nothing between them but spaces, 的, of, commas or 's) are one phrase where
they fit (`fits`): a year and a month, season or festival (2023年夏天, summer of 2023), a
modifier and a season, festival or month (last June), and, relative ones kept as a unit and an
offset until here, a month said relative and a day of it (上个月15号, the 15th of last month),
or a year and today (去年今天, 2020年的今天). Two phrases joined by a range word are one range.

Resolution is late: a phrase's fields are read together, from the coarsest unit to the finest,
so a relative word is the range of its unit (上个月: last month) or anchors a finer one (15号 of
it). A year alone is a date only within `YEARS` (1000年的古树 is a tree a thousand years old);
with a month, a day, a season or a festival, or at an end of a range whose other end is within
them (1900年到9999年), any year the calendar has.
"""

from __future__ import annotations

from datetime import date

from search.dates import calendar
from search.dates.calendar import shifted
from search.dates.tokens import YEARS
from search.dates.words import AND, BETWEEN, BETWEEN_AFTER, JOINS, ending


def groups(text: str, tokens: list, today: date, hemisphere: str) -> list[tuple]:
    """Adjacent tokens joined into phrases, each resolved to a range; two phrases joined by a
    range word become one. Returns (start, end, after, before, whether it is such a range) per
    phrase; two joined by "and" (和, 、) stay two, unless "between" (之间) says they are a range."""
    phrases: list[list] = []  # [start, end, fields]
    skipped = False  # a range word left out since the last phrase: nothing joins it past that
    for kind, value, start, end in tokens:
        fields = phrases[-1][2] if phrases else None
        joinable = phrases and not skipped and JOINS.fullmatch(text, phrases[-1][1], start)
        if kind == "to":
            if phrases and joinable and "to" not in fields:
                phrases[-1][1] = end
                fields["to"] = (start, end)
            else:
                skipped = True
            continue
        skipped = False
        target = None
        if joinable and "to" in fields:  # the other end of a range
            other = fields.setdefault("other", {})
            target = other if not other or fits(other, kind, value) else None
        elif joinable and fits(fields, kind, value):
            target = fields
        if target is None or kind in target or kind == "date" and target.keys() & {"year", "month"}:
            phrases.append([start, end, {}])
            target = phrases[-1][2]
        target[kind] = value
        phrases[-1][1] = end
    out = []
    for start, end, fields in phrases:
        if "to" in fields and "other" not in fields:
            end = fields["to"][0]  # a dangling range word is text
        other = fields.pop("other", None)
        first = resolve(fields, today, hemisphere, other)
        if first is None or other is None and _far_year(fields):
            continue
        if other is not None and _two(text, fields, start, end):  # "2019 and 2021": both
            if _far_year(fields):
                continue
            out.append((start, fields["to"][0], *first, False))
            # 2023年6月和7月: July 2023; 2018年的夏天和秋天: the autumn of 2018
            seasons = other.keys() == {"season"} and "season" in fields
            alone = other.keys() == {"month"} or seasons
            second = resolve(other, today, hemisphere, fields if alone else None)
            if second is not None and not _far_year(other):  # not "2019 and christmas tree"
                out.append((fields["to"][1], end, *second, False))
            continue
        if other is not None:
            second = resolve(other, today, hemisphere, fields)
            if (
                second is None
                or _far_year(fields)
                and (_far_year(other) or second[0].year not in YEARS)
            ):
                continue
            if _far_year(other) and first[0].year not in YEARS:
                continue
            both_years = "year" in other and "year" in fields  # "from 2025 to 2018"
            if both_years and second[1] <= first[0]:
                first, second = second, first
            if _months_alone(fields, other):
                # 12月到2月, 11月到12月, 5月1日到6月1日: the end follows the start within a year
                later = other["month"]["m"] < fields["month"]["m"]
                again = dict(other, year=dict(y=first[0].year + later))
                second = resolve(again, today, hemisphere, fields)
            elif second[1] <= first[0] and _earlier_month(other, fields):
                # 2019年12月到2月, "November 2023 to March": the end month in the next year
                again = dict(other, year=dict(y=first[0].year + 1))
                second = resolve(again, today, hemisphere, fields)
            elif second[1] <= first[0] and "year" in other.keys() - fields:
                # 12月到2020年2月: the start's year is the one before the end's
                again = dict(fields, year=dict(y=second[0].year - 1))
                first = resolve(again, today, hemisphere, other) or first
            if second is None or second[1] <= first[0]:
                continue
            first = (first[0], second[1])
        out.append((start, end, *first, other is not None))
    return out


def _far_year(fields: dict) -> bool:
    """Whether `fields` are a year alone, outside `YEARS` (1000年, 5000年)."""
    said = fields.get("year", {})
    return fields.keys() - {"to"} == {"year"} and "y" in said and said["y"] not in YEARS


def _two(text: str, fields: dict, start: int, end: int) -> bool:
    """Whether the range word is "and" (和, 与, 及, 、) without "between" (之间) around the two:
    "2019 and 2021", 2019年和2021年 are two phrases; "between 2019 and 2021" one range."""
    joined = ending(AND, text, fields["to"][1])
    between = ending(BETWEEN, text, start) or BETWEEN_AFTER.match(text, end)
    return bool(joined) and not between


def _month(fields: dict) -> int | None:
    """The month `fields` name by its number or name (not one said relative), if any."""
    return fields.get("month", {}).get("m")


def _earlier_month(other: dict, fields: dict) -> bool:
    """Whether `other` is a month alone (a day of it too) before the month of `fields`."""
    return other.keys() == {"month"} and (_month(other) or 13) < (_month(fields) or 0)


def _months_alone(fields: dict, other: dict) -> bool:
    """Whether both ends of a range are a month or a day of one (12月到2月, 5月1日到6月1日), with
    no year or modifier."""
    return all(f.keys() - {"to"} == {"month"} and _month(f) for f in (fields, other))


def fits(fields: dict, kind: str, value: dict) -> bool:
    """Whether a token adds to the phrase before it (2023年 + 夏天, last + summer, June + 2023,
    上个月 + 15号, 15th + last month, 去年 + 今天)."""
    if kind in fields or "date" in fields or kind == "date" or "week" in fields or kind == "week":
        return False
    day = value if kind == "day" else fields.get("day")
    if day is not None:
        others = (fields.keys() | {kind}) - {"day"}
        if "rel" in day:  # today, of a year: 去年今天
            return day["rel"] == 0 and others == {"year"}
        month = value if kind == "month" else fields.get("month", {})
        return others == {"month"} and "rel" in month  # the 15th of last month
    month = value if kind == "month" else fields.get("month", {})
    if "rel" in month:  # last month: a range of its own, or of a day in it
        return False
    if kind == "year":  # not "last 三年前": a modifier takes a year said by its number
        modifier = "modifier" in fields and "y" in value
        return modifier or any(k in fields for k in ("month", "season", "festival"))
    if "modifier" in fields:
        return kind in ("season", "festival", "month")
    if kind == "modifier":
        return False
    return "year" in fields and not any(k in fields for k in ("month", "season", "festival"))


def _year(fields: dict, today: date) -> int | None:
    said = fields.get("year")
    if said is None:
        return None
    return said["y"] if "y" in said else today.year + said["rel"]


def resolve(fields: dict, today: date, hemisphere: str, other: dict | None = None):
    """(start, end) of a phrase's fields, or None where they do not make a date range; a year
    `other` (the other end of a range, or the phrase before "and") says, where `fields` lack one."""
    if "week" in fields:
        return shifted("week", fields["week"]["rel"], today, fields["week"].get("weekday"))
    if "day" in fields:
        return _day(fields, today)
    if "rel" in fields.get("month", {}):
        return shifted("month", fields["month"]["rel"], today)
    if "date" in fields:
        d = fields["date"]
        if d["d"]:
            return calendar.day(date(d["y"], d["m"], d["d"]))
        return calendar.month(d["y"], d["m"])
    year = _year(fields, today)
    if year is None and other is not None:
        year = _year(other, today)
    if year is not None and not date.min.year <= year <= date.max.year:
        return None  # 9999年12月到2月: no February after December 9999
    modifier = fields.get("modifier", {}).get("w", "")
    if "season" in fields:
        return calendar.season(fields["season"]["s"], year, modifier, today, hemisphere)
    if "festival" in fields:
        return calendar.festival(fields["festival"]["f"], year, modifier, today)
    if "month" in fields:
        mo, d = fields["month"]["m"], fields["month"]["d"]
        said = other is not None and not other.get("month", {}).get("alone", True)
        if fields["month"].get("alone") and year is None and not modifier and not said:
            return None  # "June" alone; "from December to February" is a range of months
        if not 1 <= mo <= 12:
            return None
        if year is None:  # the latest that has begun; "last June" in June: a year before
            year = today.year if date(today.year, mo, 1) <= today else today.year - 1
            if modifier == "last" and (year, mo) == (today.year, today.month):
                year -= 1
        if d is not None:
            if not calendar.valid(year, mo, d):
                return None
            return calendar.day(date(year, mo, d))
        return calendar.month(year, mo)
    if year is not None and not modifier:
        return calendar.year(year)
    return None


def _day(fields: dict, today: date):
    """A day said relative (今天), in the year said beside it (去年今天), or a day of a month
    said relative (上个月15号); None where that month lacks it (上个月31号 after 30 days)."""
    said = fields["day"]
    if "rel" in said:
        start, _ = shifted("day", said["rel"], today)
        if "year" in fields and said["rel"] == 0:
            start = calendar.same_day_in(_year(fields, today), start)
        return calendar.day(start)
    if "rel" not in fields.get("month", {}):  # a day with no month said beside it: words
        return None
    first, _ = shifted("month", fields["month"]["rel"], today)
    if not calendar.valid(first.year, first.month, said["d"]):
        return None
    return calendar.day(date(first.year, first.month, said["d"]))
