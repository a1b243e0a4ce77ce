"""Which language a text is written in, and each language's words as data.

`detect(text)` tells by script: kana make it Japanese ("ja"), hangul Korean ("ko"), Han
characters without either Chinese ("zh"), Latin letters English ("en"), anything else "other"
(digits alone, Cyrillic). Search asks it wherever it must know a query's language: which generic
captions measure a query (search.relevance).

`TABLES`: each language's words, a module of plain data per language (en.py, zh.py): the words of
date phrases (search.dates builds its patterns from them) and of numbers (search.relevance's
rivals). To add a language, write its module with the names en.py has (tests/test_query.py
checks them) and add it here. Modules rather than JSON files: each word can say why it is
there, tuples and dicts need no loader or schema check, and they install with the package.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from types import ModuleType

from search.language import en, zh

TABLES: dict[str, ModuleType] = {"en": en, "zh": zh}
LANGUAGES = ("zh", "ja", "ko", "en", "other")  # what `detect` answers

KANA = re.compile(
    "[\u3041-\u3096\u309d-\u309f"  # hiragana
    "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"  # katakana, not its middle dot (Chinese uses it)
    "\uff66-\uff9d]"  # half-width katakana
)
HANGUL = re.compile("[\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7af]")
HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff]")  # CJK ideographs and compatibility ones
LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
# Where a text's own language is missing: the nearest that is there. Japanese writes Han
# characters too, so Chinese before English.
NEAREST = {"ja": ("zh", "en"), "ko": ("en",), "zh": ("en",), "other": ("en",)}


def detect(text: str) -> str:
    """The language `text` is written in, by script: "ja" where it has kana (a Japanese text
    may have Han characters too), "ko" where it has hangul, "zh" where it has Han characters,
    "en" where it has Latin letters, else "other"."""
    if KANA.search(text):
        return "ja"
    if HANGUL.search(text):
        return "ko"
    if HAN.search(text):
        return "zh"
    if LATIN.search(text):
        return "en"
    return "other"


def nearest(language: str, available: Collection[str]) -> str | None:
    """`language` where `available` has it, else the nearest that it has (NEAREST); None where
    none of them is."""
    for candidate in (language, *NEAREST.get(language, ("en",))):
        if candidate in available:
            return candidate
    return None
