"""Which results match a query: a relevance cut-off decided per query.

A raw cosine is not a confidence. Its scale moves from one query to the next (a short query scores
lower against everything than a long one; an image query scores far higher than a text query; some
words sit closer to every photo than others), and from one photo to the next (some photos sit
closer to every text), so no fixed `min_score` separates the photos that show a thing from those
that do not (immich #5996, rclip #207).

Text queries (`text_matches`): each photo measured by its own yardstick. A fixed set of generic
captions in the query's language (search.language.detect; the nearest the captions have where
they lack it), one plain concept each ("a dog", "a beach", "一只猫": `Captions`, from the model
folder's captions.json where it has one, else this package's), is
scored against each result; the best of them is the photo's *yardstick*: how well the plainest
words describe this photo, on this model's scale. A query's *standing* on a photo is its score
minus the photo's yardstick. Then

1. the query is answered when its best standing among the results is at least `ANSWERED`: some
   photo is described by the query about as well as by its plainest caption. A subject the
   library lacks stands low on every photo: "a red star" scores below "a red triangle" on each
   red triangle.
2. a photo of an answered query matches when its standing is within `SPREAD` of the best: a
   photo that shows only part of the query, or gets a thing wrong, stands further below.
3. where the query names a number ("two dogs", 「三只猫」), a photo matches only where no
   neighbouring number describes it better: "two dogs" must score at least as high as "one dogs"
   and "three dogs" (`recounted`). The count is what these models see worst: a photo of three
   dogs stands as high as one of two on every other measure, and its yardstick, a plain
   caption of one concept, cannot tell them apart; the query's own neighbours can.

Where a query has words and also a picture or a negative, the words decide and the rest only
ranks: a photo matches "a red circle" with a picture where it matches "a red circle" alone, and
"a beach" without "people" where "a beach" matches it and "people" does not (each text by these
rules, its best standing among its own best photos). The words say what must be in the photo;
the picture says which of those come first.

Image queries, a picture or a library photo without words (a negative aside; `matches`): no
caption measures a picture's likeness to another, so the query is scored against a fixed random
sample of the library (the background, `Background.fit`, made once per index). Most photos do
not show what the query shows, so these scores are what a photo that does not match scores *for
this query*; their median and spread (the median absolute deviation) turn each score into a
standing, z = (score - median) / spread. A photo matches when z >= `Z` (far beyond what
non-matching photos score for this very query) and z >= `RHO` times the best photo's standing
(the leading group).

Known failure modes:
- The captions are what the yardstick knows. A photo of something no caption names (a circuit
  board) has a low yardstick, so a query loosely related to it may match it; a library of one
  kind of photo (all receipts) is measured by captions that mostly do not apply.
- A query that names a small part of a photo ("a shape on the left") stands low where the
  photo's plainest caption describes it much better ("a red shape"), and may be left out.
- Photos that differ from the query by a detail the model barely tells apart (a size, a kind)
  stand as high as the right ones and match too; only numbers have rivals (rule 3). Numbers are
  words, each language's from its table in search.language (two to ten before a word, 二 to
  十 before a measure word such as 个, 只, 张 or 人: `number_rules`; the first two numbers of a
  query), not digits. One has none: 一只猫 means "a cat" as often
  as "one cat", and "one" is as often a pronoun ("the red one"), so "one dog" matches photos
  of two dogs that it stands as high on. An idiom with a numeral and a measure word (两头落空)
  has rivals too, and where a model reads a rival as it reads the query (an unknown word), the
  rule does nothing.
- Rules 1 and 2 are decided among the results (the k best by score), not over the library: the
  photo of the best standing may rank below the k best, so a match may change with `k`.
  (`Library.search` decides among the k best of the whole library for the words too, so that a
  filter, a date or a folder, or a picture that ranks, does not change whether a photo
  matches.)
- A subject the library lacks whose nearest photos differ from it by such a detail may still be
  answered, by those photos.
- With words and a picture, a photo the words describe matches however unlike the picture it
  is: the picture ranks it low, not out.
- Image queries: a subject most of the library shows makes the background the matching
  photos, so few or none stand out; photos that share only part of the query stand out too; a
  background of fewer than `MIN_BACKGROUND` photos is too small to tell, and such a query is left
  undecided (`matches` returns None). An image query that is itself in the library (or has copies
  there) is measured against the best photo that is not a copy (`COPY`); its copies match.

`ANSWERED` and `SPREAD` were chosen on the toy world (bench/quality.py --calibrate, on seeds the
tests do not use; rule 3 has no threshold of its own); README gives the figures on the
held-out seeds. `Z` (about 1 in 30 000 for a normal background) and `RHO` are reasoned defaults:
on the toy world no image query stands out that far (its pictures are all alike: shapes on a
plain ground), and no (Z, RHO) meets the targets there. With real weights none of this has been
measured: the toy world is the only calibration there is. A model calibrated apart brings its
own four in its folder's relevance.json, as it brings its captions (`Thresholds.from_folder`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType

import numpy as np

from search.language import TABLES, detect, nearest

CAPTIONS = Path(__file__).with_name("captions.json")  # {language: [caption, ...]}
THRESHOLDS = "relevance.json"  # a model folder's own thresholds: {"answered": ..., "z": ...}
ANSWERED = -0.02  # text: the best standing at which a query is answered at all
SPREAD = 0.06  # text: how far below the best standing a match may stand
SAMPLE = 2000  # background photos kept per index
MIN_BACKGROUND = 50  # fewer than this: no decision
Z = 4.0  # image: standing above the background's median, in robust standard deviations
RHO = 0.7  # image: standing relative to the best photo's
COPY = 0.98  # cosine at which an image query's hit is a copy of it, not a match to measure by
MAD_TO_SD = 1.4826  # the median absolute deviation of a normal distribution, times this, is its sd
TIE = 1e-5  # a rival scoring this little above the query is the query read alike, not a rival
NUMBERS_MEASURED = 2  # the first this many numbers of a query have rivals: at most 4 texts


@dataclass(frozen=True)
class Background:
    """A fixed sample of a library's vectors, [N, D] float32, against which each query's scores
    are measured."""

    vectors: np.ndarray

    @classmethod
    def fit(
        cls, vectors: np.ndarray | Sequence[np.ndarray], size: int = SAMPLE, seed: int = 0
    ) -> Background:
        """A random sample of `size` rows of `vectors` ([N, D], or several such arrays taken as
        one, e.g. an index's memory-mapped base and its delta: only the sampled rows are read).
        The same input gives the same sample."""
        parts = [vectors] if isinstance(vectors, np.ndarray) else list(vectors)
        total = sum(len(p) for p in parts)
        rows = np.arange(total)
        if total > size:
            rows = np.sort(np.random.default_rng(seed).choice(total, size, replace=False))
        starts = np.cumsum([0] + [len(p) for p in parts])
        sample = [
            np.asarray(p[rows[(rows >= a) & (rows < b)] - a], np.float32)
            for p, a, b in zip(parts, starts, starts[1:], strict=False)
        ]
        dim = parts[0].shape[1] if parts else 0
        return cls(np.concatenate(sample) if sample else np.empty((0, dim), np.float32))

    def __len__(self) -> int:
        return len(self.vectors)

    def standing(self, query: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """`scores` of `query` (normalised, [D]) as robust z-scores against this background."""
        background = self.vectors @ np.asarray(query, np.float32)
        median = float(np.median(background))
        spread = MAD_TO_SD * float(np.median(np.abs(background - median)))
        return (np.asarray(scores, np.float32) - median) / max(spread, 1e-6)


@dataclass(frozen=True)
class Captions:
    """Generic captions, one plain concept each, per language: {language: [caption, ...]}."""

    texts: dict[str, list[str]]

    @classmethod
    def read(cls, folder: Path | None = None) -> Captions:
        """The captions of the model in `folder` (its captions.json, where it has one: a model of
        another world than photos brings its own), else `CAPTIONS`. ValueError, saying which
        file, where it is not {language: [caption, ...], ...}."""
        own = folder / "captions.json" if folder is not None else None
        path = own if own is not None and own.is_file() else CAPTIONS
        try:
            texts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} cannot be read: {e}") from None
        if not (
            isinstance(texts, dict)
            and texts
            and all(
                isinstance(t, list) and t and all(isinstance(c, str) for c in t)
                for t in texts.values()
            )
        ):
            raise ValueError(f'{path} should hold {{"en": [caption, ...], "zh": [...], ...}}')
        return cls(texts)

    def language(self, text: str) -> str:
        """The language whose captions measure `text`: its own (search.language.detect), else
        the nearest these captions have (a Japanese text: Chinese, which writes Han characters
        too; any other: English), else the first there is."""
        return nearest(detect(text), self.texts) or next(iter(self.texts))


@dataclass(frozen=True)
class Thresholds:
    """What the rules decide by: `answered` and `spread` (text queries), `z` and `rho` (image
    queries). A model brings its own in its folder's relevance.json (`from_folder`), else these
    defaults: ANSWERED, SPREAD, Z and RHO."""

    answered: float = ANSWERED
    spread: float = SPREAD
    z: float = Z
    rho: float = RHO

    @classmethod
    def from_folder(cls, folder: Path | None = None) -> Thresholds:
        """The thresholds of the model in `folder`: its relevance.json where it has one (some or
        all of {"answered": ..., "spread": ..., "z": ..., "rho": ...}, calibrated for that
        model; the rest stay the defaults), else the defaults. ValueError, saying which file,
        where it is not such an object of finite numbers."""
        path = folder / THRESHOLDS if folder is not None else None
        if path is None or not path.is_file():
            return cls()
        try:
            given = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} cannot be read: {e}") from None
        names = {f.name for f in fields(cls)}
        if not (
            isinstance(given, dict)
            and given.keys() <= names
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in given.values()
            )
        ):
            example = ", ".join(f'"{n}": {getattr(cls(), n)}' for n in sorted(names))
            raise ValueError(f"{path} should hold {{{example}}}, or some of them")
        return cls(**{name: float(v) for name, v in given.items()})


@dataclass(frozen=True)
class NumberRule:
    """Where one language says a count: `pattern` finds a number word that has rivals (two to
    ten), `numbers` are its words for one to ten in order, `aliases` other spellings of them."""

    language: str
    pattern: re.Pattern
    numbers: tuple[str, ...]
    aliases: dict[str, str]


def number_rules(tables: Mapping[str, ModuleType] = TABLES) -> list[NumberRule]:
    """Each language's number words (search.language's tables) as a `NumberRule`: two to ten
    before a word ("two dogs", not "two-tone") where the language has no measure words, else
    a numeral alone (not in 十二, 二百 or the ordinal 第二) before a measure word (两个, 三只,
    五人)."""
    rules = []
    for language, table in tables.items():
        numbers, aliases = tuple(table.NUMBERS), dict(table.NUMBER_ALIASES)
        if not numbers:
            continue
        said = [*numbers[1:], *(a for a, n in aliases.items() if n in numbers[1:])]
        words = _either(said)
        if table.MEASURE_WORDS:
            around = [*numbers, *aliases, *table.NUMERALS, *table.NUMERAL_ALIASES, *table.TEN]
            around += [*table.LARGER_NUMERALS, *table.ORDINAL_PREFIXES]
            single = "".join(sorted({w for w in around if len(w) == 1}))
            longer = "".join(f"(?<!{re.escape(w)})" for w in sorted(set(around) - set(single)))
            measure = _either(table.MEASURE_WORDS)
            pattern = f"(?<![{re.escape(single)}]){longer}{words}(?={measure})"
        else:
            pattern = rf"\b{words}(?=\s+[^\W\d_])"
        rules.append(NumberRule(language, re.compile(pattern, re.IGNORECASE), numbers, aliases))
    return rules


def _either(words: Iterable[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


NUMBER_RULES = number_rules()


def yardsticks(vectors: np.ndarray, captions: np.ndarray) -> np.ndarray:
    """[K] each photo's (`vectors`, [K, D]) best score against `captions` ([N, D], the
    embedded captions of the query's language): its yardstick."""
    return (np.asarray(vectors, np.float32) @ np.asarray(captions, np.float32).T).max(axis=1)


def recounted(text: str, rules: Sequence[NumberRule] = NUMBER_RULES) -> list[str]:
    """`text` with each number it names one lower and one higher, each change a text of its
    own: "two dogs" -> ["one dogs", "three dogs"], 「三只猫」 -> [「两只猫」, 「四只猫」] (the
    words as they stand: "one dogs"). The rivals of rule 3, of the first `NUMBERS_MEASURED`
    numbers, by the number words of each language's `rules` (the text's own language first,
    where two read the same number: 三匹 is Japanese in a Japanese text); [] where `text` names
    no number."""

    def changed(match: re.Match, rule: NumberRule) -> list[str]:
        said = match.group()
        n = rule.numbers.index(rule.aliases.get(said.lower(), said.lower()))
        words = [rule.numbers[m] for m in (n - 1, n + 1) if 0 <= m < len(rule.numbers)]
        words = [w.capitalize() for w in words] if said[0].isupper() else words
        return [text[: match.start()] + w + text[match.end() :] for w in words]

    own = detect(text)
    found, taken = [], set()
    for rule in sorted(rules, key=lambda r: r.language != own):  # stable: the rest in order
        for match in rule.pattern.finditer(text):
            if match.start() not in taken:
                taken.add(match.start())
                found.append((match, rule))
    found = sorted(found, key=lambda f: f[0].start())[:NUMBERS_MEASURED]
    return [rival for match, rule in found for rival in changed(match, rule)]


def text_matches(
    scores: np.ndarray,
    yardsticks: np.ndarray,
    answered: float = ANSWERED,
    spread: float = SPREAD,
    leaders: np.ndarray | None = None,
    rivals: np.ndarray | None = None,
) -> np.ndarray:
    """Which of a text query's `scores` ([K] cosines, e.g. the top k of a search) are matches,
    given the photos' `yardsticks` ([K], `yardsticks`): the text rules of this module's
    docstring, with the thresholds `answered` and `spread`. `leaders` ([K] bool, default all):
    the photos whose best standing decides (the library's k best, where `scores` also hold
    photos a filter kept). `rivals` ([K]): each photo's best score against the query
    `recounted`, where it names a number."""
    scores = np.asarray(scores, np.float32)
    standing = scores - yardsticks
    if not len(standing):
        return np.zeros(0, bool)
    best = standing[_leading(leaders, len(standing))].max()
    decided = (standing >= best - spread) & (best >= answered)
    return decided if rivals is None else decided & (scores >= rivals - TIE)


def matches(
    query: np.ndarray,
    scores: np.ndarray,
    background: Background,
    z: float = Z,
    rho: float = RHO,
    leaders: np.ndarray | None = None,
) -> np.ndarray | None:
    """Which of an image query's `scores` (the query's cosines to some photos, the best among
    them included) are matches, by the image rules of this module's docstring.

    Args:
        query: the normalised query vector [D] that produced `scores`.
        scores: [K] cosines, e.g. the top k of a search.
        background: the library's `Background`.
        z, rho: the two thresholds (`Z`, `RHO`).
        leaders: as in `text_matches`.

    Returns:
        [K] bool, or None where the background is too small to decide.
    """
    if len(background) < MIN_BACKGROUND:
        return None
    scores = np.asarray(scores, np.float32)
    if not len(scores):
        return np.zeros(0, bool)
    standing = background.standing(query, scores)
    ordinary = scores < COPY
    leading = _leading(leaders, len(scores))
    mine = leading & ordinary if (leading & ordinary).any() else leading
    best = standing[mine].max()
    return (standing >= max(z, rho * best)) | ~ordinary  # a copy of the query matches it


def _leading(leaders: np.ndarray | None, k: int) -> np.ndarray:
    """[k] bool: `leaders`, or all where none are given or none is one."""
    return leaders if leaders is not None and leaders.any() else np.ones(k, bool)
