"""`Library`: open a library folder (or catalog URL) and search it by text, image, or both.

Scores are cosine similarities between the query's normalised embedding and each photo's. The
text tower loads on the first text query, the image tower on the first image query; opening loads
neither. A query photo is not its own result: "more like this" (`like=`, from the stored vector)
leaves the photo out, and so does an image query given as bytes that are a photo of the library.
Each hit says whether it matches the query (`Hit.match`), decided per query (search.relevance):
by its words where it has any (how well they describe each photo, against generic captions and,
for a number, its neighbours), a picture alone against a fixed sample of the library.

`Library` is a facade over rooms that each answer one question (ARCHITECTURE.md): which tower?
(search.towers), what is asked? (search.question), does it match? (search.matching), which are
copies? (search.copies), what does it hold now? (search.holdings), what comes back?
(search.hits), which pictures may be read? (search.images), what does the model see? (seeing).
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from altclip_core.preprocess import MAX_FILE_MB, MAX_MEGAPIXELS
from search import arguments, images, seeing
from search.arguments import as_date, check_search, clean_query, photo_ids, whole
from search.catalog import Catalog, Model
from search.copies import Copies
from search.fusion import fused
from search.hits import Hit, NoLibrary, SearchError, Status, hits_from
from search.holdings import Holdings
from search.library_folder import has_catalog, no_library
from search.matching import Matching, Measured, vectors_of
from search.query import Query
from search.query import parse as parse_dates
from search.question import Question, ask, passing
from search.towers import Towers
from search.vector_index import VectorIndex

EXPLAIN_EDGE = 1024  # the longer side of a photo read to explain a match: ample for 8 x 8 cells


class Library:
    """A library of photos to search, and the rooms that answer for it: `towers` (which are
    loaded: `towers.loaded()`; the text vectors kept: `towers.forget_texts()`), `matching` (the
    rules searches decide by: `matching.rules`), `copies` (results read per group asked for:
    `copies.pool`), `holdings` (the index, counts and folders as the catalog is now)."""

    def __init__(
        self,
        folder: Path,
        catalog: Catalog,
        model: Model,
        device: str | None,
        int8: bool = True,
        hemisphere: str = "north",
    ):
        self.folder, self.catalog = folder, catalog
        self.hemisphere = hemisphere  # where seasons said in a query fall (search.query.parse)
        self.max_megapixels, self.max_file_mb = MAX_MEGAPIXELS, MAX_FILE_MB  # query images
        self.towers = Towers(model, device, int8)
        self.matching = Matching(self.towers)
        self.copies = Copies(catalog, lambda sha256: self._stored(sha256, "thumbs"))
        self.holdings = Holdings(folder, catalog, on_new_base=self._follow_model)

    @classmethod
    def open(
        cls,
        folder: str | Path = "data",
        catalog_url: str | None = None,
        device: str | None = None,
        int8: bool = True,
        hemisphere: str = "north",
    ) -> Library:
        """Open the library in `folder` (catalog at `catalog_url` if given). Text queries go
        through the int8 text tower on CPU (`int8`, the default: `towers.py`), or the exact one
        (`int8=False`, ALTCLIP_EXACT=1). Seasons said in a query ("last summer") fall in the
        `hemisphere`'s ("north" or "south")."""
        if hemisphere not in ("north", "south"):
            raise SearchError(
                f'hemisphere (ALTCLIP_HEMISPHERE) is "north" or "south", not {hemisphere!r:.40}'
            )
        folder = Path(folder).expanduser()
        if catalog_url is None and not has_catalog(folder):
            raise NoLibrary(no_library(folder))
        catalog = Catalog.open(folder, catalog_url, create=False)
        try:
            if (model := catalog.model()) is None:
                raise NoLibrary(f"the library in {folder} is empty: run  altclip-index PHOTOS")
            return cls(folder, catalog, model, device, int8, hemisphere)
        except BaseException:  # no library comes of it: its catalog is not left open
            catalog.close()
            raise

    # The model queried with (another after a rebuild), and the text tower it chose.
    model_name = property(lambda self: self.towers.model_name)
    fingerprint = property(lambda self: self.towers.fingerprint)
    device = property(lambda self: self.towers.device)
    int8 = property(lambda self: self.towers.int8)
    int8_cosine = property(lambda self: self.towers.int8_cosine, doc="the int8 check, once run")
    unwritable_cache = property(lambda self: self.towers.unwritable_cache, doc="see Towers")

    # -- state ------------------------------------------------------------------------------------

    def refresh(self) -> VectorIndex:
        """The vector index of the catalog as it is now (another process may be indexing): the
        newest base the indexer published, plus what changed since. Writes nothing."""
        return self.holdings.index()

    def _follow_model(self) -> None:
        """After a rebuild with another model, query with that model."""
        model = self.catalog.model()
        if model is not None and self.towers.follow(model):
            self.matching.forget_captions()  # after: embedding them takes the tower lock

    def warm_up(self) -> None:
        """Load the text tower, and the index with the generic captions' vectors, each in a
        thread, so that the first query finds them ready; an error is left for that query."""

        def load(tower: bool) -> None:
            try:
                self.towers.tower("text") if tower else self.matching.warm_up(self.refresh().dim)
            except Exception:  # the query that needs it says what failed
                pass

        for t in (True, False):  # the tower first: the longer of the two
            threading.Thread(target=load, args=(t,), name="altclip-warm-up", daemon=True).start()

    def status(self) -> Status:
        """Counts and last indexing time, recounted only when the catalog changes, not per page."""
        return self.holdings.status(self.model_name)

    def folders(self) -> list[str]:
        """Every folder that holds photos, and the folders above them up to the one they all
        share, sorted: what a folder filter can be. Re-read only when the catalog has changed."""
        return self.holdings.folders()

    def failures(self) -> list[tuple[str, str]]:
        """(path, reason) of each file that could not be indexed, by path."""
        return self.catalog.failures()

    # -- photos -----------------------------------------------------------------------------------

    def thumbnail(self, hit: Hit) -> Path | None:
        """The hit's thumbnail file, or None. The name comes from the catalog's sha256 only when
        it is one (64 hex digits), so a crafted row cannot point the page at another file."""
        return self._stored(hit.sha256, "thumbs")

    def preview(self, hit: Hit) -> Path | None:
        """The hit's screen-size preview (at most 1600 px, never larger than the photo) that the
        indexer made, or None (a library indexed before previews existed: use `open_photo`)."""
        return self._stored(hit.sha256, "previews")

    def _stored(self, sha256: str | None, kind: str) -> Path | None:
        return images.stored_picture(self.folder, sha256, kind)

    def photo_path(self, photo_id: int) -> str | None:
        """The file of a catalogued photo, if it is still a regular file: the only paths the UI
        may open. None for an id that is no photo's (any integer: -1, 2**63)."""
        key = arguments.photo_id(photo_id)
        path = None if key is None else self.catalog.path_of(key)
        return path if path is not None and images.regular(path) else None

    def open_photo(self, photo_id: int, edge: int = 2048) -> Image.Image | None:
        """A catalogued photo, upright RGB, no larger than `edge` on its longer side; None if it
        is no longer a regular file. Read as the indexer reads (bounded, never blocking), since
        what sits at the path may have changed since it was indexed."""
        if (path := self.photo_path(photo_id)) is None:
            return None
        return images.read_photo(path, edge, self.max_megapixels, self.max_file_mb)

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
        with_text: bool = False,
    ) -> list[Hit]:
        """Photos best first, for `text` in any language the model knows, `image` (a path, a
        file's bytes or a PIL image) and/or `like` (a photo's id: "more like this", from its
        stored vector). The query photo is left out: `like`, and the library's photos with the
        very bytes of `image`, named by path or given as bytes (a PIL image has none to compare).
        `negative` pushes a concept away (and with a text, what it describes is no match);
        `folder`, `after`/`before` (capture date, else file time), `kinds` (extensions) and
        `with_text` (words were read in it, not only its name) filter; `min_score` drops weak
        matches. `exact` scans every vector, even where the library is large enough for the ANN
        index. With `dates`, date phrases in `text` (「2023年夏天 海边」, "cats from last year":
        `search.query.parse`) filter by capture date (several: the photos of any of them),
        unless `after` or `before` is given, and are not embedded.

        Each hit's `match` says whether it shows what the query asks for, decided among the `k`
        results and the library's `k` best (so that a filter never changes it): for a text
        query, the query describes the photo about as well as the photo's plainest generic
        caption does, within a margin of the photo it describes best, and at least as well as
        the query with a number it names changed ("three dogs" for "two dogs"); where a picture
        or a negative comes with the text, the text decides (and the negative, by the same
        rules, rules out) and the picture only ranks; for a picture alone, it stands out of a
        fixed sample of the library (`search.relevance`, whose docstring lists where this fails).
        With `matches_only`, only the matches among the `k` best are returned, so a query that
        matches nothing returns nothing; a library too small to decide (match None) keeps them all.

        With `group`, near-duplicates (bursts, copies: the groups the indexer stored,
        `search.copies`) come as one hit, the best-scoring of them, with the others in its
        `duplicates`: up to `k` such hits, folded from the `copies.pool` x `k` best results, or
        more where fewer than `k` groups come of them (a copy ranked below is not found)."""
        check_search(k, min_score, kinds, folder, with_text)
        index = self.refresh()  # first: a rebuild may have changed the model
        asked = self._ask(text, image, like, negative, dates)
        after, before = as_date(after), as_date(before)
        among = passing(self.catalog, asked.said, folder, after, before, kinds, with_text)

        def ranked(n: int) -> list[Hit]:
            return self._ranked(index, asked, n, among, exact, min_score, matches_only)

        if not group:
            return ranked(k)
        return self.copies.search(k, ranked)

    def _ranked(self, index, asked: Question, k, among, exact, min_score, matches_only):
        """The `k` best photos for the question (among `among` if given), each with its match
        (`Matching.measure`), decided on the k best before `min_score` drops any."""
        if not len(index):
            return []
        found = self.matching.measure(
            index, asked.vector, asked.words, k, asked.leave_out, among, exact
        )
        ids, scores, decided = found.ids, found.scores, found.decide(self.matching.rules)
        keep = np.ones(len(ids), bool)
        if min_score is not None:
            keep &= scores >= min_score
        if matches_only and decided is not None:
            keep &= decided
        decided = None if decided is None else decided[keep]
        hits = hits_from(self.catalog, ids[keep], scores[keep], decided)
        return fused(self.catalog, hits, asked, among, k)  # and by words: search/fusion.py

    def measured(
        self,
        text: str | None = None,
        *,
        image: str | Path | bytes | Image.Image | None = None,
        like: int | None = None,
        negative: str | None = None,
        k: int = 20,
        dates: bool = True,
        exact: bool = False,
    ) -> Measured:
        """The `k` best photos of the whole library for these arguments, as `search` ranks them,
        and what their matches rest on (`search.matching.Measured`): its `decide(rules)` is
        each one's `Hit.match` by other thresholds than `matching.rules` (to calibrate them:
        bench/quality.py --calibrate measures once and decides many times)."""
        check_search(k)
        index = self.refresh()
        asked = self._ask(text, image, like, negative, dates)
        return self.matching.measure(
            index, asked.vector, asked.words, k, asked.leave_out, exact=exact
        )

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
        return self._ask(text, image, like, negative, dates).vector

    def dates_said(self, text: str) -> Query | None:
        """The capture dates `text` names ("2023年夏天", "last summer"), as `search` reads them
        (seasons in this library's `hemisphere`), or None where it names none."""
        said = parse_dates(text, hemisphere=self.hemisphere)
        return said if said.phrases else None

    def _ask(self, text, image, like, negative, dates) -> Question:
        said = self.dates_said if dates else None
        return ask(text, image, like, negative, self.towers, self.catalog, said, self._read_query)

    def _read_query(self, image) -> tuple[Image.Image, str | None]:
        return images.read_query(image, self.max_megapixels, self.max_file_mb)

    def yardsticks(self, text: str, ids: np.ndarray, index: VectorIndex | None = None):
        """[len(ids)] each photo's best score against the generic captions in `text`'s language:
        what search.relevance measures a text query's standing on it by."""
        return self.matching.yardsticks(text, self._vectors(ids, index))

    def rivals(self, text: str, ids: np.ndarray, index: VectorIndex | None = None):
        """[len(ids)] each photo's best score against `text` with a number it names changed
        to a neighbouring one (`relevance.recounted`: "one dogs", "three dogs" for "two dogs"),
        or None where it names none."""
        return self.matching.rivals(text, self._vectors(ids, index))

    def _vectors(self, ids, index: VectorIndex | None) -> np.ndarray:
        ids = photo_ids(ids)  # first: a SearchError for ids that are none, before any reading
        return vectors_of(self.refresh() if index is None else index, ids)

    def duplicates(self, threshold: float | None = None) -> list[Hit]:
        """The groups of near-duplicates (bursts, re-encodes, resized or cropped copies) of the
        whole library, largest group first, as the indexer found and stored them
        (`search.copies`; `search.duplicates` says where that fails). Each group comes as its
        best photo (the most pixels, then the largest file: the least compressed copy), the
        others in its `duplicates`, every score the cosine to that best photo. Photos without a
        near-duplicate are left out. With `threshold` (the image-image cosine of copies by their
        vectors alone), found anew over every pair instead: O(photos²) multiply-adds (minutes
        at 100 000 photos) plus a millisecond or so per pair whose thumbnails are compared."""
        return self.copies.groups(threshold)

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
        key = photo.id if isinstance(photo, Hit) else photo
        if not whole(key):
            raise SearchError(f"explain a Hit or a photo id, not {key!r:.40}")
        if (image := self.open_photo(key, edge=EXPLAIN_EDGE)) is None:  # before any tower
            raise SearchError(f"photo {key!r:.40} is not in this library or no longer a file")
        if isinstance(query, str):
            vector = self.query_vector(query)
        else:
            vector = np.asarray(query, np.float32).reshape(-1)
        return seeing.heat(self.towers.vision, image, vector, method, grid)

    def classify(
        self,
        photo: Hit | int | str | Path | bytes | Image.Image,
        labels: list[str],
        template: str | list[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Zero-shot label probabilities for a photo, best first, summing to 1. A catalogued photo
        (a Hit, its id, or its path) is classified by its stored vector, with no re-embedding; any
        other image (a path, a file's bytes, a PIL image) is embedded. Only the labels' text is
        embedded, `template` ("a photo of {}", "一张{}的照片", or several, averaged) around each."""
        labels = seeing.checked_labels(labels)
        stored = seeing.stored_vector(self.catalog, photo)
        vector = stored if stored is not None else self.embed_image(photo)
        return seeing.label_probabilities(self.towers.text, vector, labels, template)

    def embed_text(self, text: str) -> np.ndarray:
        """`text`'s normalised vector [D] from the text tower, kept for the next few queries."""
        return self.towers.embed_text(text)

    def embed_image(self, image: str | Path | bytes | Image.Image) -> np.ndarray:
        """An image (a path, a file's bytes, or a PIL image) as a query vector. Whatever the file
        claims, memory stays bounded (`max_megapixels`, `max_file_mb`); an image that cannot be
        read is a SearchError that says why, without echoing the image."""
        return self.towers.embed_image(self._read_query(image)[0])

    def query_image(self, image: str | Path | bytes, edge: int = 512) -> Image.Image:
        """A query image as a person sees it (upright RGB, at most `edge` on its longer side),
        read within the same limits as `search` reads it; UnreadableImage if it cannot be."""
        return images.as_seen(image, edge, self.max_megapixels, self.max_file_mb)

    def query_cut(self, text: str) -> str | None:
        """The part of `text` the model reads, where it cuts the query at its token limit; None
        when it reads all of it. Uses the text tower's own tokenizer (loaded once, as a query
        loads it)."""
        return self.towers.cut(clean_query(text))
