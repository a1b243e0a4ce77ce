"""The page's words in each language: one JSON file per language in `ui/strings/` (`en.json`,
`zh.json`), every file with the same keys. A third language is a third file; nothing else changes.

Values are `str.format` templates (`"{n} photos"`); `months`, `thousands` and the `date`
templates say how that language writes dates and numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

STRINGS = Path(__file__).with_name("strings")
FALLBACK = "en"


@dataclass(frozen=True)
class Strings:
    """One language's words: `tr("summary", n=3)` is the template `summary` filled in."""

    code: str
    table: dict

    def __call__(self, key: str, **values) -> str:
        return self.table[key].format(**values)

    def number(self, n: int) -> str:
        return f"{n:,}".replace(",", self.table["thousands"])

    def date(self, day: date) -> str:
        month = self.table["months"][day.month - 1]
        return self("date", day=day.day, month=month, month_number=day.month, year=day.year)

    def date_time(self, when: datetime) -> str:
        return self("date_time", date=self.date(when), time=f"{when:%H:%M}")

    def when(self, when: datetime, now: datetime) -> str:
        """`when` as a person says it: today 21:04, yesterday 21:04, or the date and time."""
        if when.date() == now.date():
            return self("today", time=f"{when:%H:%M}")
        if when.date() == now.date() - timedelta(days=1):
            return self("yesterday", time=f"{when:%H:%M}")
        return self.date_time(when)


@cache
def languages() -> dict[str, str]:
    """{code: its own name} of every strings file, e.g. {"en": "English", "zh": "中文"}."""
    return {p.stem: _table(p.stem)["language_name"] for p in sorted(STRINGS.glob("*.json"))}


def strings(code: str) -> Strings:
    return Strings(code, _table(code if code in languages() else FALLBACK))


def choose(locale: str | None) -> str:
    """The language for a browser's `navigator.language` ("zh-CN", "en-GB", "zh-Hant-TW"):
    its first part where there is a file for it, else English."""
    code = (locale or "").replace("_", "-").split("-")[0].lower()
    return code if code in languages() else FALLBACK


@cache
def _table(code: str) -> dict:
    return json.loads((STRINGS / f"{code}.json").read_text(encoding="utf-8"))
