"""Does it match? The rules of search.relevance as a search applies them.

A search's `k` results are ranked by the whole query (text, picture, negative), but whether each
matches is decided by its words where it has any: the text must describe the photo and the
negative must not, each measured by the photos' yardsticks (their best generic caption) and,
for a number, its rivals ("one dogs", "three dogs"); a picture alone is measured against a fixed
sample of the library (its background). Each is decided among the results and the library's own
`k` best for it (its leaders), so that a filter (dates, a folder) changes which photos are shown,
never whether one matches.

`Matching.measure` gathers what the decision rests on, once per search (`Measured`);
`Measured.decide(rules)` decides by the thresholds of `Rules`, the library's or, to calibrate
them, others (bench/quality.py --calibrate measures once and decides many times).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from altclip_core import cache, hub
from search.hits import SearchError
from search.relevance import (
    Background,
    Captions,
    Thresholds,
    matches,
    recounted,
    text_matches,
    yardsticks,
)
from search.towers import Towers
from search.vector_index import VectorIndex

# A model's generic captions, their vectors by language so far, a lock each.
CaptionsRead = tuple[Captions, dict[str, np.ndarray], dict[str, threading.Lock]]


@dataclass(frozen=True)
class Words:
    """What the text rules of search.relevance decide a query's matches by: its text (dates
    said left out), its negative, and whether the text is the whole query."""

    text: str | None
    negative: str | None
    alone: bool


@dataclass(frozen=True)
class Rules:
    """The rules of search.relevance, deciding by `thresholds`: `text` decides a text's matches
    (`text_matches`: answered, spread), `picture` a picture's (`matches`: z, rho).
    `Matching.rules` is what a library's searches decide by."""

    thresholds: Thresholds = field(default_factory=Thresholds)

    def text(self, scores, yardsticks, leaders=None, rivals=None) -> np.ndarray:
        """[K] bool: which of a text's `scores` match (`relevance.text_matches`)."""
        answered, spread = self.thresholds.answered, self.thresholds.spread
        return text_matches(scores, yardsticks, answered, spread, leaders=leaders, rivals=rivals)

    def picture(self, query, scores, background, leaders=None) -> np.ndarray | None:
        """[K] bool, or None where `background` is too small (`relevance.matches`)."""
        z, rho = self.thresholds.z, self.thresholds.rho
        return matches(query, scores, background, z, rho, leaders=leaders)


@dataclass(frozen=True)
class TextMeasures:
    """What a text's matches rest on, over the photos measured (the results first, then the
    text's own best that are not among them): its cosine to each, each one's yardstick, its
    rivals' best cosine (None where it names no number), and which photos are its leaders."""

    scores: np.ndarray
    yardsticks: np.ndarray
    rivals: np.ndarray | None
    leaders: np.ndarray

    def decide(self, rules: Rules) -> np.ndarray:
        return rules.text(self.scores, self.yardsticks, leaders=self.leaders, rivals=self.rivals)


@dataclass(frozen=True)
class PictureMeasures:
    """What a picture's (or a library photo's) matches rest on: the query vector, its cosine to
    each photo measured, the library's background, which photos are its leaders."""

    query: np.ndarray
    scores: np.ndarray
    background: Background
    leaders: np.ndarray

    def decide(self, rules: Rules) -> np.ndarray | None:
        return rules.picture(self.query, self.scores, self.background, leaders=self.leaders)


@dataclass(frozen=True)
class Measured:
    """A search's results (`ids`, `scores`: the k best, best first) and what their matches rest
    on: the query's text and negative where it has words, else its picture."""

    ids: np.ndarray
    scores: np.ndarray
    text: TextMeasures | None = None
    negative: TextMeasures | None = None
    picture: PictureMeasures | None = None

    def decide(self, rules: Rules | None = None) -> np.ndarray | None:
        """[len(ids)] bool: which results match by `rules` (default `Rules()`): the text
        describes them and the negative does not, or, without words, they stand out of the
        background as the picture does; None where that background is too small to tell."""
        rules = Rules() if rules is None else rules
        n = len(self.ids)
        if self.text is not None:
            decided = self.text.decide(rules)[:n]
            if self.negative is not None:
                decided &= ~self.negative.decide(rules)[:n]
            return decided
        decided = self.picture.decide(rules)
        return None if decided is None else decided[:n]


def nearest(
    index: VectorIndex,
    vector: np.ndarray,
    k: int,
    leave_out: Collection[int] = (),
    among: np.ndarray | None = None,
    exact: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """([≤k] ids, [≤k] scores) of the photos nearest `vector`, best first, those of `leave_out`
    left out: among the photos `among` if given (exactly), else the whole index (`exact`: every
    vector scanned, even where the index is approximate)."""
    if among is not None:
        found = index.search(vector[None], k + len(leave_out), among=among)
    else:
        found = index.search(vector[None], k + len(leave_out), exact)
    scores, ids = (a[0] for a in found)
    keep = (ids >= 0) & ~np.isin(ids, list(leave_out))
    return ids[keep][:k], scores[keep][:k]


def vectors_of(index: VectorIndex, ids: np.ndarray) -> np.ndarray:
    """[len(ids), D] the photos' vectors in `index`; a SearchError for one it does not hold."""
    try:
        return index.vectors_of(ids)
    except KeyError as e:
        raise SearchError(e.args[0]) from None


class Matching:
    """The relevance rules as a library's searches apply them, with what they need made once:
    the background per index, the generic captions per model and language (on disk for the next
    process too). `rules`: the thresholds searches decide by: the model folder's own where it
    brings them (`relevance.json`, as `captions.json`), else the documented defaults."""

    def __init__(self, towers: Towers):
        self.towers = towers
        self._rules: Rules | None = None  # per model
        self._background: tuple[VectorIndex, Background] | None = None  # made once per index
        self._captions: CaptionsRead | None = None  # per model
        self._captions_lock = threading.Lock()

    def measure(
        self,
        index: VectorIndex,
        query: np.ndarray,
        words: Words,
        k: int,
        leave_out: Collection[int] = (),
        among: np.ndarray | None = None,
        exact: bool = False,
    ) -> Measured:
        """The `k` best photos for `query` (among `among` if given, `leave_out` left out), and
        what their matches rest on: where the query has words, the words (each text measured
        over the results and its own `k` best in the library, the query photo counted), else
        the picture (over the results and the library's `k` best for it)."""
        ids, scores = nearest(index, query, k, leave_out, among, exact)

        def measured(own):  # vectors of the results and of `own`'s others; which are `own`'s
            rows = np.r_[ids, own[~np.isin(own, ids)]]
            return vectors_of(index, rows), np.isin(rows, own)

        if words.text is not None:

            def described(text, own=None):  # own: the text's k best, where searched already
                vector = self.towers.embed_text(text)
                own = nearest(index, vector, k, exact=exact)[0] if own is None else own
                vectors, leaders = measured(own)
                rivals = self.rivals(text, vectors)
                sticks = self.yardsticks(text, vectors)
                return TextMeasures(vectors @ vector, sticks, rivals, leaders)

            text = described(words.text, ids if words.alone and among is None else None)
            negative = None if words.negative is None else described(words.negative)
            return Measured(ids, scores, text=text, negative=negative)
        own = ids if among is None else nearest(index, query, k, leave_out, exact=exact)[0]
        vectors, leaders = measured(own)
        picture = PictureMeasures(query, vectors @ query, self.background(index), leaders)
        return Measured(ids, scores, picture=picture)

    def yardsticks(self, text: str, vectors: np.ndarray) -> np.ndarray:
        """[len(vectors)] each photo's best score against the generic captions in `text`'s
        language: what a text query's standing on it is measured by."""
        captions = self.captions()  # once: a rebuild may change them meanwhile
        language = captions[0].language(text)
        return yardsticks(vectors, self.generic_captions(language, vectors.shape[1], captions))

    def rivals(self, text: str, vectors: np.ndarray) -> np.ndarray | None:
        """[len(vectors)] each photo's best score against `text` with a number it names changed
        to a neighbouring one (`relevance.recounted`), embedded in one pass; None where it names
        none."""
        texts = recounted(text)
        return (vectors @ self.towers.embed_texts(texts).T).max(axis=1) if texts else None

    def background(self, index: VectorIndex) -> Background:
        """The relevance background of `index`, sampled once per index object (a new one is made
        whenever the catalog changes): a few thousand rows, read from the memory-mapped base."""
        cached = self._background
        if cached is not None and cached[0] is index:
            return cached[1]
        # The base's rows of photos changed since it was built are sampled too: old vectors of
        # the same library, as good a background as the rest.
        parts = ([index.base.vectors] if index.base is not None else []) + [index.delta]
        background = Background.fit(parts)
        self._background = index, background
        return background

    def captions(self) -> CaptionsRead:
        """(search.relevance's generic captions of this model, {language: their vectors as
        embedded so far}, {language: a lock for embedding them}), read once per model."""
        with self._captions_lock:
            if self._captions is None:
                try:
                    captions = Captions.read(hub.resolve(self.towers.model_name))
                except ValueError as e:
                    raise SearchError(f"{e}; fix or remove it to search by text") from None
                self._captions = captions, {}, {lang: threading.Lock() for lang in captions.texts}
            return self._captions

    @property
    def rules(self) -> Rules:
        with self._captions_lock:
            if self._rules is None:
                try:
                    thresholds = Thresholds.from_folder(hub.resolve(self.towers.model_name))
                except ValueError as e:
                    raise SearchError(f"{e}; fix or remove it to search") from None
                self._rules = Rules(thresholds)
            return self._rules

    @rules.setter
    def rules(self, rules: Rules) -> None:
        self._rules = rules

    def forget_captions(self) -> None:
        """Read the captions and thresholds again on their next use (the model changed)."""
        with self._captions_lock:
            self._captions = self._rules = None

    def warm_up(self, dim: int) -> None:
        """Embed the generic captions of every language now, so that no query waits for them."""
        captions = self.captions()
        for language in captions[0].texts:
            self.generic_captions(language, dim, captions)

    def generic_captions(self, language: str, dim: int, captions: CaptionsRead) -> np.ndarray:
        """[N, dim] the generic captions of `language`, embedded by the text tower once per model
        and language (one language waits for no other), and kept in the cache folder for the
        next process (the full-size AltCLIP text tower takes 9 s over the English ones on a
        Zen 3). `captions`: `captions()`'s."""
        captions, embedded, locks = captions
        towers = self.towers
        with locks[language]:
            if language not in embedded:
                texts, fingerprint = captions.texts[language], towers.fingerprint
                key = [fingerprint, towers.int8, towers.device, texts]
                name = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()
                path = cache.folder() / "captions" / f"{name}.npy"
                vectors = _read_array(path, (len(texts), dim))
                if vectors is None:
                    vectors = np.asarray(towers.text.embed_text(texts))
                    if towers.fingerprint == fingerprint:  # no rebuild's new model meanwhile
                        cache.write(path, lambda f: np.save(f, vectors))
                embedded[language] = vectors
            return embedded[language]


def _read_array(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The float32 array of `shape` in `path` (.npy), or None where there is none such."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return array if array.dtype == np.float32 and array.shape == shape else None
