"""Make search/dates/lunar.py, the days of four lunar festivals in 1990-2050, from the lengths of
the months of the Chinese calendar carried below, and check it.

    python tools/lunar_tables.py            # print the module as it should be
    python tools/lunar_tables.py --write    # write it
    python tools/lunar_tables.py --check    # exit 1 where the committed module differs
    python tools/lunar_tables.py --library  # make MONTHS again with lunardate, and compare

Where the tables came from: they were first computed with the lunardate library (GPL-3.0, so not
a dependency of this project; `pip install lunardate` in a throwaway environment to run
--library), which agreed with a table of lunar new years typed from published dates; MONTHS is
what lunardate 0.3 says of each month (it derives from the calendar the Purple Mountain
Observatory publishes). From MONTHS and the first new year alone this script makes every table
again, so a change to a table is a change to the data here, reviewed as such.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from datetime import date, timedelta
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "search" / "dates" / "lunar.py"
FIRST_NEW_YEAR = date(1990, 1, 27)  # the first day of the first month of the lunar year 1990
# Each lunar year: its leap month (0: none; 5: a leap fifth month after the fifth), then each
# month's length in order, the leap month in its place: 1 for 30 days, 0 for 29.
MONTHS = """
    1990  5 0100100101111
    1991  0 010010010111
    1992  0 011001001011
    1993  3 0110101001010
    1994  0 111010100101
    1995  8 0110101100101
    1996  0 010110101100
    1997  0 101010110110
    1998  5 1001001101101
    1999  0 100100101110
    2000  0 110010010110
    2001  4 1101010010101
    2002  0 110101001010
    2003  0 110110100101
    2004  2 0101101010101
    2005  0 010101101010
    2006  7 1010101011011
    2007  0 001001011101
    2008  0 100100101101
    2009  5 1100100101011
    2010  0 101010010101
    2011  0 101101001010
    2012  4 1011010101010
    2013  0 101011010101
    2014  9 0101010110101
    2015  0 010010111010
    2016  0 101001011011
    2017  6 0101001010111
    2018  0 010100101011
    2019  0 101010010011
    2020  4 0111010010101
    2021  0 011010101010
    2022  0 101011010101
    2023  2 0100110110101
    2024  0 010010110110
    2025  6 1010010101110
    2026  0 101001001110
    2027  0 110100100110
    2028  5 1110100100110
    2029  0 110101010011
    2030  0 010110101010
    2031  3 0110101101010
    2032  0 100101101101
    2033 11 0100101011101
    2034  0 010010101101
    2035  0 101001001101
    2036  6 1101001001011
    2037  0 110100100101
    2038  0 110101010010
    2039  5 1101101010100
    2040  0 101101011010
    2041  0 010101101101
    2042  2 0100101011011
    2043  0 010010011011
    2044  7 1010010010111
    2045  0 101001001011
    2046  0 101010100101
    2047  5 1011010100101
    2048  0 011011010010
    2049  0 101011011010
    2050  3 0101010110110
"""
# (name in search.dates.lunar, what it is, the lunar month and day)
FESTIVALS = [
    ("LUNAR_NEW_YEAR", "1st of the 1st month: 春节", 1, 1),
    ("DRAGON_BOAT", "5th of the 5th month: 端午节", 5, 5),
    ("QIXI", "7th of the 7th month: 七夕", 7, 7),
    ("MID_AUTUMN", "15th of the 8th month: 中秋节", 8, 15),
]
KEYS = {"LUNAR_NEW_YEAR": "new year", "DRAGON_BOAT": "dragon boat"}
KEYS |= {"QIXI": "qixi", "MID_AUTUMN": "mid-autumn"}
PER_LINE = 17


def years() -> dict[int, tuple[int, str]]:
    """{lunar year: (leap month, month lengths)} from MONTHS."""
    out = {}
    for line in MONTHS.split("\n"):
        if line.strip():
            y, leap, lengths = line.split()
            assert len(lengths) == 12 + (leap != "0"), line
            out[int(y)] = int(leap), lengths
    return out


def solar(months: dict[int, tuple[int, str]], y: int, m: int, d: int) -> date:
    """The Gregorian date of day `d` of month `m` (not a leap month) of the lunar year `y`."""
    start = FIRST_NEW_YEAR
    for earlier in range(min(months), y):
        leap, lengths = months[earlier]
        start += timedelta(days=sum(29 + int(c) for c in lengths))
    leap, lengths = months[y]
    before = m - 1 + (0 < leap < m)  # the months before m, a leap month before it included
    return start + timedelta(days=sum(29 + int(c) for c in lengths[:before]) + d - 1)


def module(months: dict[int, tuple[int, str]]) -> str:
    first, last = min(months), max(months)
    out = [
        f'"""Days of the Chinese lunar calendar, {first}-{last}, as MMDD of the Gregorian year.',
        "",
        "Made by tools/lunar_tables.py from the lengths of the calendar's months it carries (its",
        "docstring says where they came from); `python tools/lunar_tables.py --check` says whether",
        'this file is what it makes. Do not edit by hand: change the data there and --write."""',
        "",
        "from __future__ import annotations",
        "",
        f"FIRST, LAST = {first}, {last}",
        "",
        "",
        "def _table(days: str) -> dict[int, str]:",
        "    return dict(zip(range(FIRST, LAST + 1), days.split(), strict=True))",
        "",
        "",
    ]
    for name, what, m, d in FESTIVALS:
        days = [solar(months, y, m, d).strftime("%m%d") for y in range(first, last + 1)]
        rows = [" ".join(days[i : i + PER_LINE]) for i in range(0, len(days), PER_LINE)]
        out.append(f"{name} = _table(  # {what}")
        out.append('    """' + "\n    ".join(rows) + '"""')
        out.append(")")
    out.append("LUNAR = {  # by the name a festival's anchor gives (search.language's tables)")
    out += [f'    "{KEYS[name]}": {name},' for name, *_ in FESTIVALS]
    out.append("}")
    return "\n".join(out) + "\n"


def from_library(first: int, last: int) -> dict[int, tuple[int, str]]:
    """MONTHS as lunardate computes them."""
    from lunardate import LunarDate  # GPL-3.0: only here, never in the product

    out = {}
    for y in range(first, last + 1):
        leap = LunarDate.leap_month_for_year(y) or 0
        starts = []
        for m in range(1, 13):
            starts.append(LunarDate(y, m, 1).to_solar_date())
            if m == leap:
                starts.append(LunarDate(y, m, 1, True).to_solar_date())
        starts.append(LunarDate(y + 1, 1, 1).to_solar_date())
        lengths = "".join(str((b - a).days - 29) for a, b in zip(starts, starts[1:], strict=False))
        out[y] = leap, lengths
    assert LunarDate(first, 1, 1).to_solar_date() == FIRST_NEW_YEAR
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {TARGET.name}")
    action.add_argument("--check", action="store_true", help="exit 1 where it differs")
    action.add_argument("--library", action="store_true", help="compare MONTHS with lunardate")
    args = parser.parse_args()
    months = years()
    made = module(months)
    if args.library:
        theirs = from_library(min(months), max(months))
        differ = sorted(y for y in months if months[y] != theirs[y])
        print(f"lunardate and MONTHS differ in {differ}" if differ else "lunardate agrees")
        return 1 if differ else 0
    if args.write:
        TARGET.write_text(made, encoding="utf-8")
        return 0
    if args.check:
        committed = TARGET.read_text(encoding="utf-8")
        diff = difflib.unified_diff(committed.splitlines(), made.splitlines(), lineterm="")
        lines = list(diff)
        print("\n".join(lines) if lines else f"{TARGET} is what MONTHS makes")
        return 1 if lines else 0
    sys.stdout.write(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
