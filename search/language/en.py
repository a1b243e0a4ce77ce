"""English: the words of date phrases and of numbers, as data (search.dates builds its patterns
from them, search.relevance its number rivals). Every table module names the same things (zh.py
is the other one; tests/test_query.py checks that each has them all): a language without such a
word leaves its table empty. Words are lower case; a space in one is any run of spaces, an
apostrophe either ' or ’."""

SPACED = True  # words stand between spaces: each is matched whole (last, not blast)

# -- numbers ----------------------------------------------------------------------------------
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
NUMBER_ALIASES: dict[str, str] = {}  # other spellings of NUMBERS
ARTICLES = ("a", "an")  # one, before a unit: "a week ago"
NUMERALS = ""  # digits 0-9 as written in a year (English writes Arabic ones)
NUMERAL_ALIASES: dict[str, str] = {}
TEN = ""
LARGER_NUMERALS = ""
ORDINAL_PREFIXES = ()
MEASURE_WORDS = ()  # none: a number counts the word after it ("two dogs")

# -- calendar words -------------------------------------------------------------------------
YEAR_WORDS = ()  # no counter after a year's number (2023年 in Chinese)
NOT_A_YEAR_AFTER_YEAR_WORD = ()
MONTH_WORDS = ()
MONTH_SUFFIXES = ()
DAY_WORDS = ()
MONTH_NOT_AFTER = ()
MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
MONTHS |= {name[:3]: number for name, number in MONTHS.items()} | {"sept": 9}  # jun, jun.
ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")  # the 15th
ORDINAL_ARTICLES = ("the",)
DAY_OF = ("of",)  # the 15th of June
SEASONS = {"spring": "spring", "summer": "summer", "autumn": "autumn", "fall": "autumn"}
SEASONS |= {"winter": "winter"}
SEASONS_AFTER_A_YEAR: dict[str, str] = {}  # 2021年夏: a short season word right after a year
# Festivals: name -> (month, day, days) with a Gregorian date, or (a movable day: a table of
# search.dates.lunar, or "easter"; days from that day; days)
FESTIVALS = {
    "christmas eve": (12, 24, 1),
    "christmas": (12, 24, 2),
    "xmas": (12, 24, 2),
    "new year's eve": (12, 31, 2),
    "new year's day": (1, 1, 1),
    "new year": (1, 1, 1),
    "valentine's day": (2, 14, 1),
    "halloween": (10, 31, 1),
    "chinese new year": ("new year", -1, 7),  # 除夕 to the sixth day
    "lunar new year": ("new year", -1, 7),
    "spring festival": ("new year", -1, 7),
    "lantern festival": ("new year", 14, 1),
    "dragon boat festival": ("dragon boat", 0, 1),
    "qixi": ("qixi", 0, 1),
    "mid-autumn festival": ("mid-autumn", 0, 1),
    "moon festival": ("mid-autumn", 0, 1),
    "easter": ("easter", 0, 1),
}

# -- relative words: each a unit and an offset from today's, resolved when the phrase is ------
# (unit, offset) or (unit, offset, weekday): weekday 0 is Monday, "weekend" Saturday and Sunday
RELATIVE = {
    "today": ("day", 0),
    "yesterday": ("day", -1),
    "the day before yesterday": ("day", -2),
    "this week": ("week", 0),
    "last week": ("week", -1),
    "this weekend": ("week", 0, "weekend"),
    "last weekend": ("week", -1, "weekend"),
    "this month": ("month", 0),
    "last month": ("month", -1),
    "this year": ("year", 0),
    "last year": ("year", -1),
    "the year before last": ("year", -2),
}
WEEK_PREFIXES: dict[str, int] = {}  # 上周六: a week's offset, its word and a weekday (zh.py)
WEEK_MEASURES = ()
WEEK_WORDS = ()
WEEKDAYS: dict[str, int] = {}
WEEKEND = ()
AGO_UNITS = {"day": "day", "week": "week", "month": "month", "year": "year"}
AGO_UNITS |= {unit + "s": unit for unit in AGO_UNITS}
AGO = ("ago",)  # three days ago
MODIFIERS = {"last": "last", "past": "last", "this": "this"}  # last summer, this Christmas

# -- words around a phrase ------------------------------------------------------------------
RANGE_WORDS = ("to", "until", "till", "through", "thru")  # from 2018 to 2020
AND_WORDS = ("and",)  # 2019 and 2021: two phrases
OR_WORDS = ("or",)
BETWEEN_BEFORE = ("between",)  # between 2019 and 2021: one range
BETWEEN_AFTER = ()
JOINS = ("of", "'s")  # what may stand between the words of one phrase: summer of 2021
# Before a phrase, and what each makes of it: "since" from it on, "after" from its end on,
# "until" up to its end, "before" up to its start.
OPEN_BEFORE = {
    "since": "since",
    "after": "after",
    "before": "before",
    "until": "until",
    "till": "until",
    "up to": "until",
}
OPEN_AFTER = {"onward": "since", "onwards": "since"}  # after a phrase
OPEN_AFTER |= {
    f"{up}{to} {now}": "since"  # 2021 to now, up until today
    for up in ("", "up ")
    for to in ("to", "until", "till")
    for now in ("now", "today", "date")
}
OPEN_AFTER_AT_WORD_END: dict[str, str] = {}
PREPOSITIONS = ("in", "from", "during", "on", "of", "at", "since", "after", "before", "between")
TAKEN = ("taken", "shot")  # photos taken in 2019: these go with the phrase
AFTER_A_PHRASE = ("'s",)  # what goes with a phrase after it: 2019's
MONTH_CUES = (  # a month's name alone (may, march) is a month only after one of these
    "in",
    "of",
    "since",
    "from",
    "between",
    "during",
    "until",
    "till",
    "before",
    "after",
    "last",
    "this",
    "past",
)
NOT_A_YEAR_BEFORE = ("room", "no", "no.", "number", "page", "flight", "route", "bus", "model")
NOT_A_YEAR_AFTER = ()  # 2023号: a number, not a year (zh.py)
BC = ()
WORD_ENDS = ""  # characters after which a short word ends (zh.py)
DAY_ENDS = ""
