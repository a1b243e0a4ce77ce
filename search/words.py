"""Words in photos, as a query finds them: the lines the indexer read (indexer/read.py), folded
alike on both sides, looked up by character bigram, then checked line by line.

`fold`: NFKC (full-width Ａ１ is A1), casefold, accents stripped (café is cafe), traditional
Chinese characters to simplified (發票 is 发票; a table of the common ones below: a full
converter such as OpenCC is a C++ build or a 2 MB dictionary for what a photo's print needs of
it), and spaces dropped (OCR reads "INVOICE  NO" and "INVOICENO" alike), and double quotes.

`lookup`: the query's folded bigrams choose the photos from `word_grams` (a B-tree on (gram, photo)
in SQLite and PostgreSQL alike: index ranges, not a scan), the rarest first: how many photos hold
each is estimated from a few stretches of the index (Catalog.gram_shares), and bigrams most photos
hold ("im", "mg" of every IMG_ name) choose nothing. A phrase of four characters or more (six
without Chinese) may hold one OCR slip (an edit), which leaves one of its halves whole: the
candidates are the photos holding every bigram of either half, the first CANDIDATES by id a half,
narrowed where a half is held by more (search/catalog_words.py: words_lines). Their lines holding
the phrase or a half (a LIKE in the database) are then checked whole, by a substring match allowing
one edit. A name matches too: the indexer stores a photo's file and folder name as a line without a
box (indexer/reading.py), so a query found in it is a words hit, through the same index; a name has
no OCR slip.
"""

from __future__ import annotations

import json
import math
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
SLIP_FROM = (
    4  # characters from which one OCR slip (an edit) is allowed, where Chinese is among them
)
# Without Chinese, from 6: a word of 4-5 letters is one edit from too many others ("Free" in
# "Green", "Today" in "birthday": 15 of 1014 words hits on the text world were such, at 4).
SLIP_FROM_LATIN = 6
COMMON = 0.2  # the share of the photos holding a bigram past which it chooses nothing
# Candidate photos checked at most, a half (or the limit, if greater): a query whose bigrams
# every photo holds ("img") is answered from the first 500 holding them, not by checking a
# million lines.
CANDIDATES = 500
CHOSEN = 3  # bigrams a side is chosen by at most, the rarest
NARROW = 0.02  # a half is narrowed where its two rarest bigrams' photos are 2 % of all at most


QUOTES = str.maketrans("", "", '"“”')  # a query's quotes say "these words": not compared


def fold(text: str) -> str:
    """`text` as lookups compare it (the module docstring): NFKC, casefolded, no accents,
    simplified Chinese, no spaces, no double quotes (a query's "OPEN" is the word on a sign)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(QUOTES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c) and not c.isspace())
    return unicodedata.normalize("NFC", text).translate(TO_SIMPLIFIED)


def grams(folded: str) -> set[str]:
    """The character bigrams of a folded text (a one-character text is its own gram)."""
    return {folded[i : i + 2] for i in range(len(folded) - 1)} or ({folded} if folded else set())


def slips(needle: str) -> bool:
    """Whether a folded query may match with one OCR slip: SLIP_FROM characters with Chinese
    among them, else SLIP_FROM_LATIN."""
    chinese = any("\u3400" <= c <= "\u9fff" for c in needle)
    return len(needle) >= (SLIP_FROM if chinese else SLIP_FROM_LATIN)


def near(needle: str, line: str) -> int | None:
    """The edits (0 or 1) by which `needle` occurs in `line` (one allowed where it `slips`),
    or None."""
    if needle in line:
        return 0
    if not slips(needle):
        return None
    return 1 if _slipped(needle, line) else None


def _slipped(needle: str, line: str) -> bool:
    # One edit leaves one of the needle's halves whole (a change, loss or gain falls in one half,
    # or between them): found by str.find, then the other half checked beside it, at the three
    # lengths one edit allows. A line holding neither half costs two finds.
    h = len(needle) // 2
    head, tail = needle[:h], needle[h:]
    at = line.find(tail)
    while at >= 0:
        if any(_one_edit(head, line[at - k : at]) for k in (h - 1, h, h + 1) if k <= at):
            return True
        at = line.find(tail, at + 1)
    at = line.find(head)
    while at >= 0:
        rest = line[at + h : at + len(needle) + 1]
        if any(_one_edit(tail, rest[:k]) for k in range(len(tail) - 1, len(rest) + 1)):
            return True
        at = line.find(head, at + 1)
    return False


def _one_edit(a: str, b: str) -> bool:
    if len(a) < len(b):
        a, b = b, a
    if len(a) - len(b) > 1:
        return False
    i = 0
    while i < len(b) and a[i] == b[i]:
        i += 1
    # past the first difference: the rest alike after a change (same lengths) or a loss
    return a[i + 1 :] == b[i + (len(a) == len(b)) :]


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
    shares = catalog.gram_shares(sorted(grams(needle)))
    whole = _chosen(needle, shares)
    if not slips(needle):
        rounds, halves = [[(whole, [])]], []
    else:
        # One slip leaves one half whole: the photos holding every bigram of either half (split
        # where the halves are rarest) hold the slips and the exact finds. A half held by more
        # than CANDIDATES photos is narrowed by the bigram between the halves (only a slip
        # beside it loses that) where that is cheap, and where both are still cut, by every
        # bigram: the exact finds past them.
        halves = _halves(needle, shares)
        head, tail = halves
        narrowed = [_chosen(head + tail[0], shares), _chosen(head[-1] + tail, shares)]
        rounds = [
            [(_chosen(head, shares), []), (_chosen(tail, shares), [])],
            [(side if _cheap(side) else None, [i]) for i, side in enumerate(narrowed)],
            [(whole, [0, 1])],
        ]
    found: dict[int, tuple[tuple, str, str]] = {}
    most = max(CANDIDATES, limit)
    for photo, text, folded, box, confidence in catalog.words_lines(rounds, most, needle, halves):
        if needle in folded:  # SQLite's LIKE ignores ASCII case; fold keeps none anyway
            rank = (0, -confidence, photo)
        elif box != "null" and near(needle, folded):  # a file's name has no OCR slip
            rank = (1, -confidence, photo)
        else:
            continue
        if photo not in found or rank < found[photo][0]:
            found[photo] = (rank, text, box)
    best = sorted(found.items(), key=lambda x: x[1][0])[:limit]
    return [(photo, WordsFound(text, _corners(box))) for photo, (_, text, box) in best]


def _chosen(text: str, shares: dict[str, float]) -> list[tuple[str, float]]:
    # The rarest CHOSEN: past them the candidates are few, and each bigram more costs a lookup
    # a candidate (or PostgreSQL a scan of its photos). Bigrams most photos hold ("im", "mg" of
    # every IMG_ name) choose nothing: left out (the lines are checked whole after).
    ranked = sorted((shares[g], g) for g in grams(text))
    return [(g, share) for share, g in ranked if share < COMMON][:CHOSEN] or [ranked[0][::-1]]


def _cheap(side: list[tuple[str, float]]) -> bool:
    return sum(share for _, share in side[:2]) <= NARROW


def _halves(needle: str, shares: dict[str, float]) -> tuple[str, str]:
    def held(text: str) -> float:  # the share holding every bigram, were they independent
        return math.prod(share for _, share in _chosen(text, shares))

    cut = min(range(2, len(needle) - 1), key=lambda i: held(needle[:i]) + held(needle[i:]))
    return needle[:cut], needle[cut:]


def _corners(box: str) -> tuple[tuple[float, float], ...] | None:
    corners = json.loads(box)
    return None if corners is None else tuple(tuple(p) for p in corners)
