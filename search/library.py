"""`Library`: open a library folder (or catalog URL) and search it by text, image, or both.

Scores are cosine similarities between the query's normalised embedding and each photo's. The
text tower loads on the first text query, the image tower on the first image query; opening loads
neither. A query photo is not its own result: "more like this" (`like=`, from the stored vector)
leaves the photo out, and so does an image query given as bytes that are a photo of the library.
Each hit says whether it matches the query (`Hit.match`), decided per query (search.relevance):
by its words where it has any (how well they describe each photo, against generic captions and,
for a number, its neighbours), a picture alone against a fixed sample of the library.
"""

from __future__ import annotations

import functools
import hashlib
import json
import numbers
import os
import re
import stat
import threading
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from altclip_core import cache, hub
from altclip_core.errors import AltCLIPError, ImageError
from altclip_core.preprocess import MAX_FILE_MB, MAX_MEGAPIXELS, image_extensions, open_file
from search import duplicates as near
from search.catalog import ERROR, OK, SHA256, Catalog, Model
from search.library_folder import has_catalog, index_folder, picture
from search.query import MAX_QUERY_CHARS, Query
from search.query import parse as parse_dates
from search.relevance import (
    Background,
    Captions,
    matches,
    recounted,
    text_matches,
    yardsticks,
)
from search.vector_index import VectorIndex, refreshed

# A model's generic captions (search.relevance), their vectors by language so far, a lock each.
CaptionsRead = tuple[Captions, dict[str, np.ndarray], dict[str, threading.Lock]]
NEGATIVE_WEIGHT = 0.5
# Sentences the int8 text tower must embed as the exact one does, in the languages people use.
INT8_PROBES = [
    "海边的日落",
    "a dog running on the grass",
    "家人在公园里的合影",
    "snow on the mountains",
]
TEXT_CACHE = 256  # text query vectors kept per library
GROUP_POOL = 4  # results searched per hit asked for, when near-duplicates are grouped
LOOKS_KEPT = 2048  # thumbnails' looks remembered for near-duplicate checks, 10 KB each
EXPLAIN_EDGE = 1024  # the longer side of a photo read to explain a match: ample for 8 x 8 cells
SURROGATE = re.compile("[\ud800-\udfff]")
# What `escaped` writes as an escape: control characters, lone surrogates, line and paragraph
# separators, and format characters (bidi overrides and isolates, which reverse what follows
# them on a terminal; zero-width spaces and joiners, soft hyphens and byte-order marks, which
# draw nothing, so that `IMG_0001\u200b.jpg` would look like `IMG_0001.jpg`).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# The other code points Unicode says to draw as nothing (Default_Ignorable_Code_Point, outside
# Cf): the combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian and
# Unicode variation selectors. Other combining marks draw something, so stay as they are.
BLANK = frozenset(
    chr(c)
    for c in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0)
    + tuple(range(0x180B, 0x1810))
    + tuple(range(0xFE00, 0xFE10))
    + tuple(range(0xE0100, 0xE01F0))
)
LARGEST_ID = 2**63 - 1  # the catalog's ids are 64-bit integers


class SearchError(AltCLIPError):
    """A query or library that cannot be searched; the message says what to do."""


class UnreadableImage(SearchError):
    """A query image that cannot be read (not an image, damaged, too large, not a file)."""


class NoLibrary(SearchError):
    """There is no library (yet) where one was asked for: index some photos first."""


class QueryTooLong(SearchError):
    """A text query (or negative: `what`) over MAX_QUERY_CHARS; `length` and `limit` say by how
    much."""

    def __init__(self, length: int, limit: int = MAX_QUERY_CHARS, what: str = "query"):
        super().__init__(f"the {what} is {length} characters long; keep it under {limit}")
        self.length, self.limit, self.what = length, limit, what


@dataclass(frozen=True)
class Hit:
    path: str
    score: float  # cosine similarity to the query
    id: int
    sha256: str
    width: int | None
    height: int | None
    taken_at: datetime | None  # when the photo was taken (EXIF), if it says
    # Whether it shows what the query asks for (search.relevance); None for a query without
    # words where the library is too small to tell (fewer than relevance.MIN_BACKGROUND photos).
    match: bool | None = None
    size: int | None = None  # bytes
    modified: datetime | None = None  # the file's time
    # Its near-duplicates (bursts, copies), best first, each scored as this hit is: with
    # `Library.search(group=True)` and in `Library.duplicates()`; empty otherwise.
    duplicates: tuple[Hit, ...] = ()

    @property
    def display_path(self) -> str:
        """The path for people to read: bytes that are not UTF-8 shown as �."""
        return os.fsencode(self.path).decode("utf-8", "replace")

    @property
    def date(self) -> datetime | None:
        """When it was taken, else when its file last changed: what date filters and sorting
        go by."""
        return self.taken_at or self.modified


@dataclass(frozen=True)
class Words:
    """What the text rules of search.relevance decide a query's matches by: its text (dates
    said left out), its negative, and whether the text is the whole query."""

    text: str | None
    negative: str | None
    alone: bool


@dataclass(frozen=True)
class Status:
    photos: int
    failed: int
    model: str
    last_indexed: datetime | None

    @property
    def model_short(self) -> str:
        """The model's name for people: `AltCLIP` for `BAAI/AltCLIP` or `/models/AltCLIP/`."""
        return Path(self.model.rstrip("/\\")).name or self.model


class Library:
    def __init__(
        self,
        folder: Path,
        catalog: Catalog,
        model: Model,
        device: str | None,
        int8: bool = False,
        hemisphere: str = "north",
    ):
        self.folder, self.catalog, self.device, self.int8 = folder, catalog, device, int8
        self.hemisphere = hemisphere  # where seasons said in a query fall (search.query.parse)
        self.int8_cosine: float | None = None  # the int8 text tower's check, once it has run
        self.model_name, self.fingerprint = model.name, model.fingerprint
        self.max_megapixels, self.max_file_mb = MAX_MEGAPIXELS, MAX_FILE_MB  # query images
        self._index: VectorIndex | None = None
        self._texts: dict[str, np.ndarray] = {}  # recent text queries' vectors, oldest first
        self._towers: dict[str, object] = {}
        self._status: tuple[int, Status] | None = None
        self._folders: tuple[int, list[str]] | None = None
        self._background: tuple[VectorIndex, Background] | None = None  # made once per index
        self._captions: CaptionsRead | None = None  # per model
        self._groups: tuple[int, float, list[Hit]] | None = None  # duplicates(), per generation
        self._look_at = functools.lru_cache(LOOKS_KEPT)(_read_look)
        # One load of each at a time, however many threads (Streamlit sessions) ask at once.
        self._index_lock, self._tower_lock, self._text_lock, self._captions_lock = (
            threading.Lock() for _ in range(4)
        )

    @classmethod
    def open(
        cls,
        folder: str | Path = "data",
        catalog_url: str | None = None,
        device: str | None = None,
        int8: bool = False,
        hemisphere: str = "north",
    ) -> Library:
        """Open the library in `folder` (catalog at `catalog_url` if given). With `int8`, text
        queries go through the int8 text tower on CPU (2.4x faster for AltCLIP on a Zen 3), if it
        embeds a few probe sentences within kernels.INT8_MIN_COSINE of the exact one. Seasons
        said in a query ("last summer") fall in the `hemisphere`'s ("north" or "south")."""
        if hemisphere not in ("north", "south"):
            raise SearchError(
                f'hemisphere (ALTCLIP_HEMISPHERE) is "north" or "south", not {hemisphere!r:.40}'
            )
        folder = Path(folder).expanduser()
        if catalog_url is None and not has_catalog(folder):
            raise NoLibrary(
                f"no library in {folder}: build one with  altclip-index PHOTOS --library {folder}"
            )
        catalog = Catalog.open(folder, catalog_url, create=False)
        model = catalog.model()
        if model is None:
            raise NoLibrary(f"the library in {folder} is empty: run  altclip-index PHOTOS")
        return cls(folder, catalog, model, device, int8, hemisphere)

    # -- state ------------------------------------------------------------------------------------

    def refresh(self) -> VectorIndex:
        """The vector index of the catalog as it is now (another process may be indexing): the
        newest base the indexer published, plus what changed since. Writes nothing."""
        current = self._index
        index = refreshed(current, index_folder(self.folder), self.catalog)  # outside the lock: a
        # new base takes seconds to check, and searches go on with the current index meanwhile
        with self._index_lock:
            if self._index is current:
                if current is None or index.floor != current.floor:
                    self._follow_model()
                self._index = index
            return self._index

    def _follow_model(self) -> None:
        """After a rebuild with another model, query with that model."""
        model = self.catalog.model()
        if model is not None and model.fingerprint != self.fingerprint:
            with self._tower_lock, self._text_lock:
                self.model_name, self.fingerprint = model.name, model.fingerprint
                self._towers.clear()
                self._texts.clear()
            with self._captions_lock:  # after: embedding them takes the tower lock
                self._captions = None

    def warm_up(self) -> threading.Thread:
        """Load the index and the text tower, and embed the generic captions, in a background
        thread, so that the first query finds them ready; an error is left for that query."""

        def load():
            try:
                index, captions = self.refresh(), self._captions_read()
                for language in captions[0].texts:
                    self._generic_captions(language, index.dim, captions)
            except Exception:  # the query that needs them says what failed
                pass

        thread = threading.Thread(target=load, name="altclip-warm-up", daemon=True)
        thread.start()
        return thread

    def status(self) -> Status:
        """Counts and last indexing time, recounted only when the catalog has changed, not on
        each page refresh (~60 ms at a million photos)."""
        generation = self.catalog.generation()
        if self._status is None or self._status[0] != generation:
            n = self.catalog.counts()
            status = Status(n[OK], n[ERROR], self.model_name, self.catalog.last_indexed())
            self._status = generation, status
        return self._status[1]

    def folders(self) -> list[str]:
        """Every folder that holds photos, and the folders above them up to the one they all
        share, sorted: what a folder filter can be. Re-read only when the catalog has changed."""
        generation = self.catalog.generation()
        if self._folders is None or self._folders[0] != generation:
            held = self.catalog.folders()
            top = os.path.dirname(os.path.commonpath(held)) if held else ""
            found = set()
            for folder in held:
                while folder not in found and len(folder) > len(top):
                    found.add(folder)
                    folder = os.path.dirname(folder)
            self._folders = generation, sorted(found)
        return self._folders[1]

    def failures(self) -> list[tuple[str, str]]:
        """(path, reason) of each file that could not be indexed, by path."""
        return self.catalog.failures()

    def thumbnail(self, hit: Hit) -> Path | None:
        """The hit's thumbnail file, or None. The name comes from the catalog's sha256 only when
        it is one (64 hex digits), so a crafted row cannot point the page at another file."""
        return self._stored(hit.sha256, "thumbs")

    def preview(self, hit: Hit) -> Path | None:
        """The hit's screen-size preview (at most 1600 px, never larger than the photo) that the
        indexer made, or None (a library indexed before previews existed: use `open_photo`)."""
        return self._stored(hit.sha256, "previews")

    def _stored(self, sha256: str | None, kind: str) -> Path | None:
        """A picture the indexer made of the photo with this sha256 (thumbs/ or previews/)."""
        if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
            return None
        path = picture(self.folder, kind, sha256)
        return path if _regular(path) else None

    def photo_path(self, photo_id: int) -> str | None:
        """The file of a catalogued photo, if it is still a regular file: the only paths the UI
        may open. None for an id that is no photo's (any integer: -1, 2**63)."""
        photo_id = _photo_id(photo_id)
        path = None if photo_id is None else self.catalog.path_of(photo_id)
        return path if path is not None and _regular(path) else None

    def open_photo(self, photo_id: int, edge: int = 2048) -> Image.Image | None:
        """A catalogued photo, upright RGB, no larger than `edge` on its longer side; None if it
        is no longer a regular file. Read as the indexer reads (bounded, never blocking), since
        what sits at the path may have changed since it was indexed."""
        path = self.photo_path(photo_id)
        if path is None:
            return None
        from altclip_core.preprocess import open_image

        try:
            image = open_image(path, edge, self.max_megapixels, self.max_file_mb)
        except ImageError as e:
            raise UnreadableImage(f"the photo cannot be read now: {e}") from None
        image.thumbnail((edge, edge), Image.BICUBIC)
        return image

    # -- queries ----------------------------------------------------------------------------------

    def search(
        self,
        text: str | None = None,
        *,
        image: str | Path | bytes | Image.Image | None = None,
        like: int | None = None,
        k: int = 20,
        negative: str | None = None,
        folder: str | None = None,
        after: str | datetime | None = None,
        before: str | datetime | None = None,
        kinds: list[str] | None = None,
        min_score: float | None = None,
        exact: bool = False,
        dates: bool = True,
        matches_only: bool = False,
        group: bool = False,
    ) -> list[Hit]:
        """Photos best first, for `text` in any language the model knows, `image` (a path, a
        file's bytes or a PIL image) and/or `like` (a photo's id: "more like this", from its
        stored vector). The query photo is left out: `like`, and where `image` is bytes (an
        upload), the library's photos with the same bytes; a path is searched as named.
        `negative` pushes a concept away (and with a text, what it describes is no match);
        `folder`, `after`/`before` (capture date, else file time) and `kinds` (extensions)
        filter; `min_score` drops weak matches. `exact` scans every vector, even where the
        library is large enough for the ANN index. With `dates`, date phrases in `text`
        (「2023年夏天 海边」, "cats from last year": `search.query.parse`) filter by capture date
        (several: the photos of any of them), unless `after` or `before` is given, and are not
        embedded.

        Each hit's `match` says whether it shows what the query asks for, decided among the `k`
        results and the library's `k` best (so that a filter never changes it): for a text
        query, the query describes the photo about as well as the photo's plainest generic
        caption does, within a margin of the photo it describes best, and at least as well as
        the query with a number it names changed ("three dogs" for "two dogs"); where a picture
        or a negative comes with the text, the text decides (and the negative, by the same
        rules, rules out) and the picture only ranks; for a picture alone, it stands out of a
        fixed sample of the library (`search.relevance`, whose docstring lists where this
        fails). With `matches_only`, only the matches among the `k` best are returned, so a
        query that matches nothing returns nothing; a library too small to decide (match None)
        keeps them all.

        With `group`, near-duplicates (bursts, copies: `search.duplicates`) come as one hit,
        the best-scoring of them, with the others in its `duplicates`: up to `k` such hits,
        folded from the `GROUP_POOL` x `k` best results, or more where fewer than `k` groups
        come of them (a copy ranked below the results folded is not found)."""
        if not _whole(k) or k < 1:
            raise SearchError(f"k must be a whole number of at least 1, not {k!r:.40}")
        if min_score is not None and not _number(min_score):
            raise SearchError(f"min_score is a number, not {min_score!r:.40}")
        if isinstance(kinds, str):
            raise SearchError(f"kinds is a list of extensions, e.g. ['jpg'], not {kinds!r:.40}")
        _check_folder(folder)
        index = self.refresh()  # first: a rebuild may have changed the model
        query, leave_out, said, words = self._query(text, image, like, negative, dates)
        after, before = _date(after), _date(before)
        if after and before and after >= before:
            wrong = f"{after:%Y-%m-%d} is not before {before:%Y-%m-%d}"
            raise SearchError(f"the dates are the wrong way round: {wrong}")
        ranges = [(after, before)]  # the photos of any of them: 2019年和2021年 is two years
        if said is not None and after is None and before is None:
            ranges = list(said.ranges)
        among = None
        if folder or kinds or any(a or b for a, b in ranges):
            found = [self.catalog.passing(folder, a, b, kinds) for a, b in ranges]
            among = found[0] if len(found) == 1 else np.unique(np.concatenate(found))
        n = k * GROUP_POOL if group else k
        while True:  # with `group`: until k groups, or no more photos
            hits = self._ranked(
                index, query, n, leave_out, among, exact, min_score, matches_only, words
            )
            if not group:
                return hits
            grouped = self._grouped(hits, *self._copies_thresholds(index))
            if len(grouped) >= k or len(hits) < n:
                return grouped[:k]
            n *= 2

    def _ranked(
        self,
        index,
        query,
        k,
        leave_out,
        among,
        exact,
        min_score,
        matches_only,
        words: Words,
    ):
        """The `k` best photos for `query` (among `among` if given), each with its match. Where
        the query has words, the words decide (`_described`: the text describes the photo, and
        the negative does not) and a picture only ranks; else the background does. Either is
        decided among the library's `k` best as well, so that a filter changes which photos are
        shown, never whether one matches."""
        if not len(index):
            return []

        def best(vector, among=None, out=leave_out):  # ([k] ids, [k] scores), `out` left out
            if among is not None:
                found = index.search(vector[None], k + len(out), among=among)
            else:
                found = index.search(vector[None], k + len(out), exact)
            scores, ids = (a[0] for a in found)
            keep = (ids >= 0) & ~np.isin(ids, list(out))
            return ids[keep][:k], scores[keep][:k]

        ids, scores = best(query, among)

        def measured(own):  # vectors of the results and of `own`'s others; which are `own`'s
            rows = np.r_[ids, own[~np.isin(own, ids)]]
            return self._vectors_of(rows, index), np.isin(rows, own)

        # Decided on the k best before min_score drops any.
        if words.text is not None:

            def described(text, own=None):  # own: the text's k best, where searched already
                vector = self.embed_text(text)
                own = best(vector, out=())[0] if own is None else own  # the query photo counts
                return self._described(text, vector, *measured(own))[: len(ids)]

            decided = described(words.text, ids if words.alone and among is None else None)
            if words.negative is not None:
                decided &= ~described(words.negative)
        else:  # the rules' best standing: the library's k best
            vectors, leaders = measured(ids if among is None else best(query)[0])
            background = self._background_of(index)
            decided = matches(query, vectors @ query, background, leaders=leaders)
        decided = None if decided is None else decided[: len(ids)]
        keep = np.ones(len(ids), bool)
        if min_score is not None:
            keep &= scores >= min_score
        if matches_only and decided is not None:
            keep &= decided
        return self._hits(ids[keep], scores[keep], None if decided is None else decided[keep])

    def query_vector(
        self,
        text: str | None = None,
        *,
        image: str | Path | bytes | Image.Image | None = None,
        like: int | None = None,
        negative: str | None = None,
        dates: bool = True,
    ) -> np.ndarray:
        """The normalised vector `search` scores photos against for these arguments (date
        phrases left out of `text`, as `search` leaves them), e.g. for `explain`."""
        return self._query(text, image, like, negative, dates)[0]

    def dates_said(self, text: str) -> Query | None:
        """The capture dates `text` names ("2023年夏天", "last summer"), as `search` reads them
        (seasons in this library's `hemisphere`), or None where it names none."""
        said = parse_dates(text, hemisphere=self.hemisphere)
        return said if said.phrases else None

    def _query(self, text, image, like, negative, dates):
        """(the query's normalised vector, the ids of the query photo's own copies, the dates
        said in `text` or None, its `Words`)."""
        if text is None and image is None and like is None:
            raise SearchError("give a text query, an image, or both")
        parts, leave_out, said = [], set(), None
        picture = image is not None or like is not None
        if text is not None:
            text = clean_query(text)
            said = self.dates_said(text) if dates else None
            if said is not None and not said.text and picture:
                text = None  # a date alone with a picture: it filters, the picture searches
            elif said is not None:
                text = said.text or text  # a date alone: the photos of those dates
        if text is not None:
            parts.append(self.embed_text(text))
        if image is not None:
            named = isinstance(image, (str, Path))  # a file the caller names
            image, sha256 = self._decode(image)
            parts.append(self._tower("vision").embed_images([image])[0].numpy())
            if sha256 is not None and not named:  # bytes (an upload): a copy of a library photo?
                leave_out |= set(self.catalog.ids_of(sha256))
        if like is not None:
            photo_id = _photo_id(like)
            stored = None if photo_id is None else self.catalog.vector_of(photo_id)
            if stored is None:
                raise SearchError(f"no photo {like!r:.40} with a vector in this library")
            parts.append(stored)
            leave_out.add(photo_id)
        query = np.sum(parts, axis=0)
        if negative is not None:
            negative = clean_query(negative, "negative")
            query = query - NEGATIVE_WEIGHT * self.embed_text(negative)
        words = Words(text, negative, alone=not picture and negative is None)
        return (query / np.linalg.norm(query)).astype(np.float32), leave_out, said, words

    def _background_of(self, index: VectorIndex) -> Background:
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

    def yardsticks(self, text: str, ids: np.ndarray, index: VectorIndex | None = None):
        """[len(ids)] each photo's best score against the generic captions in `text`'s language:
        what search.relevance measures a text query's standing on it by."""
        return self._yardsticks(text, self._vectors_of(ids, index))

    def _yardsticks(self, text: str, vectors: np.ndarray) -> np.ndarray:
        captions = self._captions_read()  # once: a rebuild may change them meanwhile
        language = captions[0].language(text)
        return yardsticks(vectors, self._generic_captions(language, vectors.shape[1], captions))

    def _described(self, text: str, vector, vectors, leaders) -> np.ndarray:
        """[len(vectors)] bool: the photos (`vectors`) that `text` (embedded: `vector`) describes
        by the text rules of search.relevance, its best standing among the `leaders`."""
        rivals = self._rivals(text, vectors)
        sticks = self._yardsticks(text, vectors)
        return text_matches(vectors @ vector, sticks, leaders=leaders, rivals=rivals)

    def rivals(self, text: str, ids: np.ndarray, index: VectorIndex | None = None):
        """[len(ids)] each photo's best score against `text` with a number it names changed
        to a neighbouring one (`relevance.recounted`: "one dogs", "three dogs" for "two dogs"),
        or None where it names none."""
        return self._rivals(text, self._vectors_of(ids, index))

    def _rivals(self, text: str, vectors: np.ndarray) -> np.ndarray | None:
        texts = recounted(text)
        return (vectors @ self._embed_texts(texts).T).max(axis=1) if texts else None

    def _vectors_of(self, ids, index: VectorIndex | None) -> np.ndarray:
        ids = np.asarray(ids)
        if len(ids) and ids.dtype.kind in "uO":  # may hold ids past int64, no photo's
            given = ids.reshape(-1).tolist()
            if ids.dtype.kind == "O" and not all(_whole(i) for i in given):
                raise SearchError("photo ids are whole numbers")
            if outside := sorted(i for i in given if _photo_id(i) is None):
                raise SearchError(f"photos {outside[:5]} are not in the index")
            ids = ids.astype(np.int64)
        elif len(ids) and ids.dtype.kind != "i":
            raise SearchError(f"photo ids are whole numbers, not {ids.dtype}")
        try:
            return (self.refresh() if index is None else index).vectors_of(ids)
        except KeyError as e:
            raise SearchError(e.args[0]) from None

    def _captions_read(self) -> CaptionsRead:
        """(search.relevance's generic captions of this model, {language: their vectors as
        embedded so far}, {language: a lock for embedding them}), read once per model."""
        with self._captions_lock:
            if self._captions is None:
                try:
                    captions = Captions.read(hub.resolve(self.model_name))
                except ValueError as e:
                    raise SearchError(f"{e}; fix or remove it to search by text") from None
                self._captions = captions, {}, {lang: threading.Lock() for lang in captions.texts}
            return self._captions

    def _generic_captions(self, language: str, dim: int, captions: CaptionsRead) -> np.ndarray:
        """[N, dim] the generic captions of `language`, embedded by the text tower once per model
        and language (one language waits for no other), and kept in the cache folder for the
        next process (the full-size AltCLIP text tower takes 9 s over the English ones on a
        Zen 3). `captions`: `_captions_read`'s."""
        captions, embedded, locks = captions
        with locks[language]:
            if language not in embedded:
                texts, fingerprint = captions.texts[language], self.fingerprint
                key = json.dumps([fingerprint, self.int8, self.device, texts], ensure_ascii=False)
                path = cache.folder() / "captions" / f"{_sha256(key.encode())}.npy"
                vectors = _read_array(path, (len(texts), dim))
                if vectors is None:
                    vectors = self._tower("text").embed_text(texts).numpy()
                    if self.fingerprint == fingerprint:  # no rebuild's new model meanwhile
                        cache.write(path, lambda f: np.save(f, vectors))
                embedded[language] = vectors
            return embedded[language]

    def _grouped(self, hits: list[Hit], threshold: float, candidate: float) -> list[Hit]:
        """`hits` (best first) folded into groups of near-duplicates (`near.fold`, pixels
        compared on the thumbnails): each group as its best-ranked hit, the others in its
        `duplicates`."""
        rows = self.catalog.photos([h.id for h in hits])
        hits = [h for h in hits if h.id in rows and rows[h.id].embedding is not None]
        if not hits:
            return []
        vectors = np.stack([rows[h.id].vector for h in hits])
        folded = near.fold(vectors, threshold, lambda i: self._look(hits[i].sha256), candidate)
        return [
            replace(hits[first], duplicates=tuple(hits[i] for i in rest)) for first, *rest in folded
        ]

    def _copies_thresholds(self, index: VectorIndex) -> tuple[float, float]:
        """The cosine at which two photos are copies by their vectors alone, and the cosine from
        which their thumbnails' pixels are compared (`near.threshold_for`, `near.candidate_for`
        on the relevance background's sample: milliseconds)."""
        sample = self._background_of(index).vectors
        return near.threshold_for(sample), near.candidate_for(sample)

    def _look(self, sha256: str | None) -> np.ndarray | None:
        """`near.look` of a photo's thumbnail, or None without one."""
        path = self._stored(sha256, "thumbs")
        return None if path is None else self._look_at(str(path))

    def duplicates(self, threshold: float | None = None) -> list[Hit]:
        """The groups of near-duplicates (bursts, re-encodes, resized or cropped copies) of the
        whole library, from the stored vectors (`search.duplicates.groups`, whose docstring says
        where it fails), largest group first. Each group comes as its best photo (the most
        pixels, then the largest file: the least compressed copy), the others in its
        `duplicates`, every score the cosine to that best photo. Photos without a near-duplicate
        are left out. Computed once per catalog generation: O(photos²) multiply-adds (seconds
        at 10 000 photos, minutes at 100 000) plus a millisecond or so per pair of photos whose
        vectors are close enough to compare their thumbnails, holding every vector in memory
        meanwhile. `threshold`: the image-image cosine of copies by their vectors alone
        (default: `_copies_thresholds`)."""
        given = threshold
        if given is not None and not (_number(given) and 0 < given <= 1):
            raise SearchError(f"threshold is a cosine above 0 and at most 1, not {given!r:.40}")
        threshold, candidate = self._copies_thresholds(self.refresh())
        if given is not None:
            threshold, candidate = given, min(candidate, given)
        generation = self.catalog.generation()
        cached = self._groups
        if cached is not None and cached[:2] == (generation, threshold):
            return cached[2]
        parts = list(self.catalog.vectors())
        ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        vectors = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, 0), np.float32)
        position = {int(i): row for row, i in enumerate(ids.tolist())}
        hashes = self.catalog.hashes(ids.tolist())

        def looks(row: int) -> np.ndarray | None:
            return self._look(hashes.get(int(ids[row])))

        grouped = near.groups(ids, vectors, threshold, looks=looks, candidate=candidate)
        flat = np.array([i for members in grouped for i in members], np.int64)
        known = {h.id: h for h in self._hits(flat, np.zeros(len(flat)))}
        found = []
        for members in grouped:
            hits = [known[i] for i in members if i in known]  # one removed meanwhile: left out
            if len(hits) < 2:
                continue
            best = max(hits, key=lambda h: ((h.width or 0) * (h.height or 0), h.size or 0, -h.id))
            hits = [best] + [h for h in hits if h is not best]
            scores = vectors[[position[h.id] for h in hits]] @ vectors[position[best.id]]
            first, *rest = (replace(h, score=float(s)) for h, s in zip(hits, scores, strict=True))
            found.append(replace(first, duplicates=tuple(rest)))
        self._groups = generation, threshold, found
        return found

    def explain(
        self,
        photo: Hit | int,
        query: str | np.ndarray,
        method: str = "occlusion",
        grid: int | None = None,
    ) -> np.ndarray:
        """Where in a catalogued photo the model finds `query`: a heat map over the whole photo
        (`search.explain.heat_map`), to show with `search.explain.overlay`.

        Args:
            photo: a Hit or a photo id.
            query: the query's text (date phrases are left out, as `search` leaves them), or
                its vector (a text's, a photo's, or a mix, as `search` built it).
            method: "occlusion" (the default: what the score rests on; (grid - 1)² passes of
                the image tower per square crop of the photo) or "tokens" (one pass: the patch
                tokens scored against the query; rougher).
            grid: cells along the photo's shorter side for "occlusion"
                (`search.explain.GRID` by default).

        Returns:
            [rows, cols] float32, row 0 at the top, square cells over the photo. "occlusion":
            how much the photo's cosine with the query falls when the cell is hidden (> 0 where
            it supports the match, within ±2); "tokens": each cell's cosine with the query.
        """
        from search.explain import GRID, heat_map

        photo_id = photo.id if isinstance(photo, Hit) else photo
        if not _whole(photo_id):
            raise SearchError(f"explain a Hit or a photo id, not {photo_id!r:.40}")
        image = self.open_photo(photo_id, edge=EXPLAIN_EDGE)  # first: no tower loaded in vain
        if image is None:
            shown = f"{photo_id!r:.40}"
            raise SearchError(f"photo {shown} is not in this library or no longer a file")
        if isinstance(query, str):
            vector = self.query_vector(query)
        else:
            vector = np.asarray(query, np.float32).reshape(-1)
        tower = self._tower("vision")
        if vector.shape != (tower.dim,) or not np.isfinite(vector).all() or not vector.any():
            raise SearchError(f"the query vector must be {tower.dim} finite numbers, not all 0")
        try:
            return heat_map(tower, image, vector, method, GRID if grid is None else grid)
        except ValueError as e:  # an unknown method, a grid that does not fit the model
            raise SearchError(str(e)) from None

    def classify(
        self,
        photo: Hit | int | str | Path | bytes | Image.Image,
        labels: list[str],
        template: str | list[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Zero-shot label probabilities for a photo, best first, summing to 1. A catalogued
        photo (a Hit, its id, or its path) is classified by its stored vector, with no
        re-embedding; any other image (a path, a file's bytes, a PIL image) is embedded. Only
        the labels' text is embedded, `template` ("a photo of {}", "一张{}的照片", or several
        to average) around each."""
        labels = [clean_query(label) for label in labels]
        if not labels:
            raise SearchError("give at least one label, e.g. 猫 狗 海滩")
        key = photo.id if isinstance(photo, Hit) else photo
        stored = None
        if _whole(key):
            photo_id = _photo_id(key)
            stored = None if photo_id is None else self.catalog.vector_of(photo_id)
            if stored is None:
                raise SearchError(f"no photo {key!r:.40} with a vector in this library")
        elif isinstance(key, (str, Path)) and os.path.isabs(key):
            stored = self.catalog.vector_of(str(key))
        vector = stored if stored is not None else self.embed_image(photo)
        try:
            probs = self._tower("text").classify(vector[None], labels, template)[0]
        except ValueError as e:  # a template without {}
            raise SearchError(str(e)) from None
        return sorted(zip(labels, probs.tolist(), strict=True), key=lambda x: -x[1])

    def embed_text(self, text: str) -> np.ndarray:
        """`text`'s normalised vector [D] from the text tower, kept for the next few queries."""
        return self._embed_texts([text])[0]

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        """[len(texts), D]: the texts not embedded lately in one pass (the weights read once)."""
        with self._text_lock:
            known = {t: self._texts[t] for t in texts if t in self._texts}
        new = list(dict.fromkeys(t for t in texts if t not in known))
        if new:
            fingerprint = self.fingerprint
            vectors = self._tower("text").embed_text(new).numpy()
            known |= dict(zip(new, vectors, strict=True))
            with self._text_lock:
                if self.fingerprint == fingerprint:  # no rebuild's new model meanwhile
                    self._texts |= {t: known[t] for t in new}
                while len(self._texts) > TEXT_CACHE:
                    self._texts.pop(next(iter(self._texts)))  # the oldest
        return np.stack([known[t] for t in texts])

    def embed_image(self, image: str | Path | bytes | Image.Image) -> np.ndarray:
        """An image (a path, a file's bytes, or a PIL image) as a query vector. Whatever the file
        claims, memory stays bounded (`max_megapixels`, `max_file_mb`); an image that cannot be
        read is a SearchError that says why, without echoing the image."""
        return self._tower("vision").embed_images([self._decode(image)[0]])[0].numpy()

    def _decode(self, image: str | Path | bytes | Image.Image) -> tuple[Image.Image, str | None]:
        """The query image, read within the limits, and the sha256 of its bytes (None for a PIL
        image): a file is read once, as the indexer reads it (bounded, never blocking)."""
        from altclip_core.preprocess import check_size, open_image

        shown = f"{image}" if isinstance(image, (str, Path)) else "the image"
        try:
            if isinstance(image, Image.Image):
                check_size(image, self.max_megapixels)
                return image, None
            if isinstance(image, (str, Path)):
                with open_file(image, self.max_file_mb) as f:
                    image = f.read()
            data = bytes(image)
            return open_image(data, None, self.max_megapixels, self.max_file_mb), _sha256(data)
        except ImageError as e:
            raise UnreadableImage(f"{shown} cannot be read: {e}") from None

    def query_image(self, image: str | Path | bytes, edge: int = 512) -> Image.Image:
        """A query image as a person sees it (upright RGB, at most `edge` on its longer side),
        read within the same limits as `search` reads it; UnreadableImage if it cannot be."""
        from altclip_core.preprocess import open_image

        try:
            found = open_image(image, edge, self.max_megapixels, self.max_file_mb)
        except ImageError as e:
            shown = f"{image}" if isinstance(image, (str, Path)) else "the image"
            raise UnreadableImage(f"{shown} cannot be read: {e}") from None
        found.thumbnail((edge, edge), Image.BICUBIC)
        return found

    def query_cut(self, text: str) -> str | None:
        """The part of `text` the model reads, where it cuts the query at its token limit; None
        when it reads all of it. Uses the text tower's own tokenizer (loaded once, as a query
        loads it)."""
        text = clean_query(text)
        encoding = self._tower("text").tokenizer.backend.encode(text)
        if not encoding.overflowing:
            return None
        end = max((stop for start, stop in encoding.offsets if stop > start), default=0)
        return text[:end]

    def _tower(self, name: str):
        with self._tower_lock:
            if name not in self._towers:
                import altclip_core

                folder = hub.resolve(self.model_name)
                if hub.fingerprint(folder) != self.fingerprint:
                    raise SearchError(
                        f"the model at {self.model_name} is not the one this library was built "
                        "with; re-index with  altclip-index --rebuild"
                    )
                if name == "text" and self.int8:
                    tower = self._int8_text(folder)
                else:
                    tower = altclip_core.load(folder, device=self.device, towers=(name,))
                self._towers[name] = tower
            return self._towers[name]

    def _int8_text(self, folder: Path):
        """The int8 text tower if it embeds INT8_PROBES within kernels.INT8_MIN_COSINE of the
        exact one, else the exact one: how far int8 moves embeddings depends on the weights. The
        check loads both once per model and machine; later opens load only the one it chose."""
        import altclip_core
        from altclip_core import kernels

        def load(quantize=None):
            return altclip_core.load(folder, self.device, towers=("text",), quantize=quantize)

        check = f"int8 text {self.fingerprint}"
        self.int8_cosine = kernels.remembered(check)
        if self.int8_cosine is not None and self.int8_cosine < kernels.INT8_MIN_COSINE:
            return load()
        try:
            int8 = load("int8")
        except ValueError:  # int8 runs on CPU only; it says so before reading any weight
            return load()
        if self.int8_cosine is not None:
            return int8
        exact = load()
        pairs = exact.embed_text(INT8_PROBES) * int8.embed_text(INT8_PROBES)
        self.int8_cosine = float(pairs.sum(-1).min())
        kernels.remember(check, self.int8_cosine)
        return int8 if self.int8_cosine >= kernels.INT8_MIN_COSINE else exact

    def _hits(
        self, ids: np.ndarray, scores: np.ndarray, decided: np.ndarray | None = None
    ) -> list[Hit]:
        rows = self.catalog.photos(ids.tolist())
        decided = [None] * len(ids) if decided is None else [bool(m) for m in decided]
        return [
            Hit(
                r.path,
                float(score),
                r.id,
                r.sha256,
                r.width,
                r.height,
                r.taken_at,
                match=match,
                size=r.size,
                modified=_file_time(r.mtime_ns),
            )
            for i, score, match in zip(ids.tolist(), scores.tolist(), decided, strict=True)
            if (r := rows.get(i)) is not None
        ]


def plain(text: str) -> str:
    """`text` as it is searched: control characters as spaces, a lone surrogate (bytes that were
    not UTF-8 on a command line, which cannot be tokenised) as �, no spaces around."""
    text = SURROGATE.sub("\ufffd", text)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).strip()


def clean_query(text: str, what: str = "query") -> str:
    """The query (or the `what`: "negative"), `plain`; an error for one that is empty or absurdly
    long."""
    if not isinstance(text, str):
        raise SearchError(f"a text {what} must be a string, not {type(text).__name__}")
    text = plain(text)
    if not text:
        hint = "what the photo shows, e.g. 海边的日落" if what == "query" else "what to leave out"
        raise SearchError(f"the {what} is empty: type {hint}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLong(len(text), what=what)
    return text


@functools.cache
def image_types() -> list[str]:
    """The extensions a query image may have here, as the indexer reads them ("jpg", ...)."""
    return sorted(e.lstrip(".") for e in image_extensions())


def error_line(e: Exception) -> str:
    """An error as one escaped line: an OSError as "what it is: path" (not "[Errno 30] ..."),
    anything else as its message."""
    if isinstance(e, OSError) and e.strerror:
        return escaped(f"{e.strerror}: {e.filename}" if e.filename else e.strerror)
    return escaped(str(e))


def escaped(path: str) -> str:
    """A file name on one line that says exactly which file: bytes that are not UTF-8 as \\xNN,
    what `hidden` calls hidden escaped (newlines and tabs as \\n and \\t, a bidi override as
    \\u202e, a zero-width space as \\u200b), a backslash doubled. For terminals and logs."""
    out = []
    for c in path:
        if "\udc80" <= c <= "\udcff":  # a byte that was not UTF-8 (surrogate escape)
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c == "\\" or hidden(c):
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)


def hidden(c: str) -> bool:
    """Whether the character `c` would be invisible, or would move or reverse other text, where
    it is printed (HIDDEN_CATEGORIES, BLANK): what a file name shown to people must escape."""
    return c in BLANK or unicodedata.category(c) in HIDDEN_CATEGORIES


def _photo_id(x) -> int | None:
    """`x` as a photo id: a whole number (not a bool) the catalog's 64-bit ids can hold; None for
    any other, which is no photo's."""
    if _whole(x) and -LARGEST_ID - 1 <= x <= LARGEST_ID:
        return int(x)  # a numpy integer too
    return None


def _whole(x) -> bool:
    """Whether `x` is a whole number (a numpy integer too), not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_folder(folder) -> None:
    """A SearchError for a `folder` filter that is not a string, or holds a NUL, which no path
    holds (and SQLite's LIKE reads as the pattern's end: it matched every photo). Other control
    characters stay: a folder's name may hold a newline, and the page filters by the library's
    own folders."""
    if folder is not None and not isinstance(folder, str):
        raise SearchError(f"folder is a folder's name or path, not {type(folder).__name__}")
    if folder is not None and "\x00" in folder:
        raise SearchError(f"no folder is named {escaped(folder)[:80]}: a name holds no NUL (\\x00)")


def _number(x) -> bool:
    """Whether `x` is a real number, not a bool, NaN or infinite."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and np.isfinite(x)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_array(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The float32 array of `shape` in `path` (.npy), or None where there is none such."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return array if array.dtype == np.float32 and array.shape == shape else None


def _file_time(ns: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(ns / 1e9)
    except (OverflowError, OSError, ValueError):
        return None


def _read_look(path: str) -> np.ndarray | None:
    """`near.look` of a thumbnail file (named by its photo's sha256, so never stale), read-only,
    or None where it cannot be read."""
    try:
        with Image.open(path) as picture:
            found = near.look(picture)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    found.setflags(write=False)
    return found


def _regular(path: str | Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _date(value: str | date | datetime | None) -> datetime | None:
    """A datetime, a date (its midnight) or an ISO string as a naive datetime in this machine's
    local time, as the catalog keeps capture times (EXIF's wall clock) and compares file times;
    a SearchError else. A time with a zone (2023-06-01T00:00+14:00) is that moment here (in UTC:
    2023-05-31 10:00), so naive and zoned dates mix."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise SearchError(f"{value!r:.60} is not a date; write it as 2023-06-01") from None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=None)
    try:
        return value.astimezone().replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):  # hours from year 1 or 9999: its wall clock
        return value.replace(tzinfo=None)
