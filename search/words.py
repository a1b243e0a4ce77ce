"""Words in photos, as a query finds them: the lines the indexer read (indexer/read.py), folded
alike on both sides, looked up by character bigram, then checked line by line.

`fold`: NFKC (full-width Ａ１ is A1), casefold, accents stripped (café is cafe), traditional
Chinese characters to simplified (發票 is 发票; a table of the common ones below: a full
converter such as OpenCC is a C++ build or a 2 MB dictionary for what a photo's print needs of
it), and spaces dropped (OCR reads "INVOICE  NO" and "INVOICENO" alike).

`lookup`: the query's folded bigrams select the photos holding all of them from `word_grams` (a
B-tree in SQLite and PostgreSQL alike: an index query, not a scan); for a phrase of four
characters or more, all but one (OCR's one-character slip touches two bigrams, so the query's
bigrams found are at least n - 2: the candidates are those holding n - 2, checked after). Each
candidate's lines are then checked by a substring match allowing one edit for four characters or
more. A name matches too: the indexer stores a photo's file and folder name as a line without a
box (indexer/reading.py), so a query found in it is a words hit, through the same index.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

# Common traditional characters and their simplified forms (receipts, signs, menus, streets).
_TRADITIONAL = (
    "發发票票號号碼码單单據据價价錢钱費费聯联電电話话場场館馆門门開开關关車车東东"
    "書书學学會会個个們们來来時时間间長长後后對对從从這这樣样點点見见頭头體体國国"
    "華华語语說说讀读寫写買买賣卖務务員员區区廣广飯饭麵面雞鸡魚鱼貓猫龍龙鳥鸟馬马"
    "門门銀银行行藥药醫医院院園园機机飛飞鐵铁路路線线號号街街廳厅樓楼層层網网頁页"
    "歡欢迎迎謝谢請请問问禮礼節节愛爱親亲聽听氣气實实現现產产業业報报紙纸圖图條条"
    "總总額额稅税貨货幣币與与為为無无餘余處处廠厂灣湾島岛鄉乡縣县區区號号證证驗验"
)
TO_SIMPLIFIED = {ord(_TRADITIONAL[i]): _TRADITIONAL[i + 1] for i in range(0, len(_TRADITIONAL), 2)}
SLIP_FROM = 4  # characters from which one OCR slip (an edit) is allowed
COMMON = 200_000  # photos holding a bigram past which it chooses nothing


def fold(text: str) -> str:
    """`text` as lookups compare it (the module docstring): NFKC, casefolded, no accents,
    simplified Chinese, no spaces."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c) and not c.isspace())
    return unicodedata.normalize("NFC", text).translate(TO_SIMPLIFIED)


def grams(folded: str) -> set[str]:
    """The character bigrams of a folded text (a one-character text is its own gram)."""
    return {folded[i : i + 2] for i in range(len(folded) - 1)} or ({folded} if folded else set())


def near(needle: str, line: str) -> int | None:
    """The edits (0 or 1) by which `needle` occurs in `line` (one allowed from SLIP_FROM
    characters on), or None."""
    if needle in line:
        return 0
    if len(needle) < SLIP_FROM:
        return None
    n = len(needle)
    for size in (n - 1, n, n + 1):  # a character lost, changed or added
        for start in range(0, len(line) - size + 1):
            if _one_edit(needle, line[start : start + size]):
                return 1
    return None


def _one_edit(a: str, b: str) -> bool:
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    if len(a) < len(b):
        a, b = b, a
    if len(a) - len(b) != 1:
        return False
    i = next((k for k in range(len(b)) if a[k] != b[k]), len(b))
    return a[i + 1 :] == b[i:]


@dataclass(frozen=True)
class WordsFound:
    """Why a photo matched by words: the line (or the file's name) and its box, four corners as
    fractions of the photo's width and height (None for a name)."""

    text: str
    box: tuple[tuple[float, float], ...] | None


def lookup(catalog, query: str, limit: int = 200) -> list[tuple[int, WordsFound]]:
    """The photos whose words (or file name) hold `query`, best first: exact before one slip,
    then by the line's confidence (a name's is 0), then by id.

    Returns:
        [(photo id, Words)]: at most `limit`.
    """
    needle = fold(query)
    if not needle:
        return []
    wanted = grams(needle)
    least = len(wanted) - 2 if len(needle) >= SLIP_FROM else len(wanted)
    found: dict[int, tuple[tuple, WordsFound]] = {}
    exact: set[int] = set()
    # Bigrams most photos hold ("im", "mg" of every IMG_ name) choose nothing and cost a scan of
    # their rows: left out of the choosing (the lines are checked whole after), the rarest kept.
    held = catalog.gram_counts(sorted(wanted), COMMON)
    chosen = sorted(g for g in wanted if held[g] < COMMON) or sorted(wanted)
    need = max(least - (len(wanted) - len(chosen)), 1)
    for photo, text, folded, box, confidence in catalog.word_candidates(chosen, need):
        if len(exact) >= limit and photo not in exact:
            break  # the photos holding the most bigrams come first: none later is exact
        if needle in folded:
            edits = 0
            exact.add(photo)
        elif photo in exact or box == "null" or len(wanted & grams(folded)) < least:
            continue  # a name has no OCR slip; a slip leaves out two of the query's bigrams
        elif (edits := near(needle, folded)) is None:
            continue
        rank = (edits, -confidence, photo)
        if photo not in found or rank < found[photo][0]:
            box = json.loads(box)
            corners = None if box is None else tuple(tuple(p) for p in box)
            found[photo] = (rank, WordsFound(text, corners))
    return [(photo, w) for photo, (_, w) in sorted(found.items(), key=lambda x: x[1][0])][:limit]
