"""Every language's words (search.language's tables) as the patterns the date grammar matches:
alternations of the words of one kind across the languages, the numerals, and the words around a
phrase (since, 以来, between, 之间). The grammar's own patterns (search.dates.tokens) are built
from these; nothing here knows a word of any language."""

from __future__ import annotations

import re
from collections.abc import Iterable

from search.language import TABLES

A = r"(?<![A-Za-z0-9_])"  # a word of a spaced language begins here (CJK characters may touch it)
Z = r"(?![A-Za-z0-9_])"  # and ends here
PUNCTUATION = ",，。、;；"
NEVER = "(?!)"  # the pattern of no word at all
B = r"\b"  # a word boundary, where \b is meant (it sees CJK characters as word characters)


def merged(name: str) -> dict:
    """The dict `name` of every language's table, as one."""
    out: dict = {}
    for table in TABLES.values():
        out |= getattr(table, name)
    return out


def every(name: str, spaced: bool | None = None) -> list[str]:
    """The words (or a dict's keys) `name` of every language's table (where `spaced` is given,
    of the spaced or the unspaced languages only)."""
    tables = [t for t in TABLES.values() if spaced is None or t.SPACED == spaced]
    return [w for table in tables for w in getattr(table, name)]


def alternation(name: str, lead: str = "", trail: str = "", spaced: bool | None = None) -> str:
    """The words `name` of every language's table (where `spaced` is given, of the spaced or
    the unspaced languages only) as one alternation, longest first, in a group. A word of a
    spaced language is matched with `lead` before and `trail` after it (boundaries: \\b, A, Z),
    any run of spaces for its spaces and either apostrophe for its; NEVER where there is none."""
    pieces = []
    for table in TABLES.values():
        if spaced is not None and table.SPACED != spaced:
            continue
        for word in getattr(table, name):
            if table.SPACED:
                piece = re.escape(word).replace(r"\ ", r"\s+").replace("'", "['’]")
                pieces.append((len(word), lead + piece + trail))
            else:
                pieces.append((len(word), re.escape(word)))
    pieces.sort(key=lambda p: -p[0])
    return "(?:" + "|".join(p for _, p in pieces) + ")" if pieces else NEVER


def characters(chars: Iterable[str]) -> str:
    """A character class of `chars`; NEVER where there is none."""
    chars = sorted(set("".join(chars)))
    return "[" + "".join(re.escape(c) for c in chars) + "]" if chars else NEVER


def _numeral_values() -> dict[str, int]:
    values = {}
    for table in TABLES.values():
        own = {c: i for i, c in enumerate(table.NUMERALS)}
        own |= {alias: own[c] for alias, c in table.NUMERAL_ALIASES.items()}
        counts = {w: i + 1 for i, w in enumerate(table.NUMBERS) if len(w) == 1 and i < 9}
        own |= {w: n for w, n in counts.items() if not table.SPACED}
        own |= {a: own[w] for a, w in table.NUMBER_ALIASES.items() if w in own}
        values |= own
    return values


DIGIT_VALUES = _numeral_values()  # 二: 2, 两: 2, 〇: 0 (numerals written as digits, 二〇二三)
TENS = "".join(every("TEN"))  # 十 (十二, 二十五)
POSITIONAL = {c for t in TABLES.values() for c in [*t.NUMERALS, *t.NUMERAL_ALIASES]}
YEAR_DIGITS = characters(POSITIONAL)  # 二〇二三年
COUNT_DIGITS = characters([*DIGIT_VALUES, TENS])  # 两, 三, 十: a count (三天前)
ONES = [  # the numerals of each digit, 0 to 9
    "".join(c for c, v in DIGIT_VALUES.items() if v == n and c in POSITIONAL) for n in range(10)
]
_TEN = characters(TENS)
MONTH_NUMBER = rf"(?:1[0-2]|0?[1-9]|{_TEN}{characters(ONES[1] + ONES[2])}?|{characters(ONES[1:])})"
DAY_NUMBER = r"(?:[12]\d|3[01]|0?[1-9])"
NUMERAL_DAY = (
    rf"(?:{DAY_NUMBER}|{characters(ONES[2] + ONES[3])}?{_TEN}{characters(ONES[1:])}?"
    rf"|{characters(ONES[1:])})"
)
# A number from its first digit: tried from every digit of a long one, it would cost the square
NUMBER = rf"(?:(?<!\d)\d+|(?<!{COUNT_DIGITS}){COUNT_DIGITS}+)"
COUNT_WORDS = {w: i + 1 for t in TABLES.values() if t.SPACED for i, w in enumerate(t.NUMBERS)}
COUNT_WORDS |= {w: 1 for w in every("ARTICLES")}


def number(s: str) -> int:
    """An Arabic numeral or one written in a language's numerals: 2023, 二〇二三, 十二, 二十五.
    KeyError where it is neither."""
    if s.isdigit():
        return int(s)
    ten = next((c for c in s if c in TENS), None)
    if ten is None:
        return int("".join(str(DIGIT_VALUES[c]) for c in s))
    tens, _, ones = s.partition(ten)
    return (DIGIT_VALUES[tens] if tens else 1) * 10 + (DIGIT_VALUES[ones] if ones else 0)


def count(s: str) -> int | None:
    """A count, in digits, numerals or words (three, a): None where it is none."""
    s = s.lower()
    if s in COUNT_WORDS:
        return COUNT_WORDS[s]
    try:
        return number(s)
    except (KeyError, ValueError):
        return None


def ending(pattern: re.Pattern, text: str, end: int) -> re.Match | None:
    """`pattern.search(text[:end])`, for a pattern that ends the text ($) with a few short words
    and the spaces around them (since, taken in, up to, room, 公元前): searched only from where
    those can begin, so that it costs the same at the end of a long query as of a short one."""
    start = end
    for _ in range(3):  # three words at most, of 16 characters at most, each after its spaces
        while start and text[start - 1].isspace():
            start -= 1
        start = max(0, start - 16)
    return pattern.search(text, start, end)  # lookbehinds and \b still see text[:start]


# -- the words around a phrase ------------------------------------------------------------------
WORD_ENDS = rf"(?=$|[\s{PUNCTUATION}{''.join(every('WORD_ENDS'))}])"  # 2021年夏, not 夏至
DAY_ENDS = rf"(?=$|[\s{PUNCTUATION}{''.join(every('WORD_ENDS') + every('DAY_ENDS'))}])"
NOT_YEAR_AFTER = rf"{alternation('NOT_A_YEAR_AFTER')}|:|\.\d"  # 2023号, 2019: 12, 2019.5
NOT_A_YEAR_BEFORE = re.compile(rf"(?:{alternation('NOT_A_YEAR_BEFORE')}|\#)\s*$", re.I)
BC = re.compile(rf"{alternation('BC')}\s*$")
YEAR_CUE = re.compile(  # a number past this year is a year only after such a word: since 2027
    rf"(?:{alternation('PREPOSITIONS', lead=B)}|{alternation('RANGE_WORDS', lead=B)}"
    rf"|{alternation('OPEN_BEFORE', lead=B)}|{alternation('AND_WORDS', lead=B)}|[-–~])\s*$",
    re.I,
)
_TAKEN = alternation("TAKEN", lead=B)
BEFORE_PHRASE = re.compile(  # what goes with a phrase before it: taken in, 从, 在
    rf"(?:{_TAKEN}\s+)?{alternation('PREPOSITIONS', lead=B)}\s*$|{_TAKEN}\s*$", re.I
)
AFTER_PHRASE = re.compile(rf"\s*{alternation('AFTER_A_PHRASE', trail=B)}+", re.I)
MONTH_CUE = re.compile(rf"{alternation('MONTH_CUES', lead=B)}\s+$", re.I)
OPEN_BEFORE = re.compile(rf"{alternation('OPEN_BEFORE', lead=B)}\s*$", re.I)
OPEN_AFTER = re.compile(
    rf"\s*(?:{alternation('OPEN_AFTER', trail=B)}"
    rf"|{alternation('OPEN_AFTER_AT_WORD_END')}{WORD_ENDS})",
    re.I,
)
# What each open end's word makes of a phrase's range: since, after, until, before
OPEN_BEFORE_MEANS = merged("OPEN_BEFORE")
OPEN_AFTER_MEANS = merged("OPEN_AFTER") | merged("OPEN_AFTER_AT_WORD_END")
JOINS = re.compile(rf"[\s,，]*(?:{alternation('JOINS')}[\s,，]*)?", re.I)  # 2023年的夏天
AND = re.compile(rf"{alternation('AND_WORDS', lead=B)}\s*$", re.I)
BETWEEN = re.compile(rf"{alternation('BETWEEN_BEFORE', lead=B)}\s+$", re.I)
BETWEEN_AFTER = re.compile(rf"\s*{alternation('BETWEEN_AFTER')}")
CONNECTOR = re.compile(  # what only joins two phrases (2019年和2021年): goes with them
    rf"\s*(?:(?:{alternation('AND_WORDS', B, B)}|{alternation('OR_WORDS', B, B)}"
    rf"|[{PUNCTUATION[:2]}])\s*)?",
    re.I,
)
