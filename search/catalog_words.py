"""The statements of words in photos (search/words.py, indexer/reading.py): which photos need
reading, a batch of read photos stored (one transaction, the next generation), the words of
photos removed or changed dropped, and the lookup's: how many photos hold a bigram (estimated),
and the lines of the photos a lookup's bigrams choose."""

from __future__ import annotations

import json

from sqlalchemy import (
    Integer,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    intersect,
    literal,
    not_,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from search.schema import OK, Photo, Reading, WordGram, WordLine, in_chunks, next_generation
from search.words import fold, grams

WINDOWS, WIDTH = 32, 64  # where a bigram's share is estimated: 32 stretches of 64 ids
MERGE = 8  # SQLite: the two rarest bigrams' ranges merged if the second's is at most 8x longer


class CatalogWords:
    """Words in photos; mixed into `Catalog`, whose `_session` it uses."""

    def needing_reading(self, after: int = 0, limit: int = 16) -> list[tuple[int, str, str]]:
        """Up to `limit` OK photos past id `after` whose words were not read for their bytes
        (no `readings` row, or one for another sha256), in id order: (id, sha256, path)."""
        joined = and_(Reading.photo == Photo.id, Reading.sha256 == Photo.sha256)
        with self._session() as s:
            rows = s.execute(
                select(Photo.id, Photo.sha256, Photo.path)
                .outerjoin(Reading, joined)
                .where(Photo.status == OK, Photo.id > after, Reading.photo.is_(None))
                .order_by(Photo.id)
                .limit(limit)
            )
            return [tuple(r) for r in rows]

    def read_before(self, hashes: list[str]) -> dict[str, tuple[str | None, list]]:
        """{sha256: (cut, [(text, box, confidence)])}: the words already read in a photo with
        these bytes (a photo moved or renamed is a new row; a copy is the same picture), the
        file names left out; none where its reading failed (the cause may be the file's)."""
        found: dict[str, tuple[str | None, list]] = {}
        usable = or_(Reading.cut.is_(None), not_(Reading.cut.startswith("not read:")))
        with self._session() as s:
            for chunk in in_chunks(sorted(set(hashes))):
                query = select(Reading.photo, Reading.sha256, Reading.cut)
                query = query.where(Reading.sha256.in_(chunk), usable).order_by(Reading.photo)
                chosen = {}  # the first photo read with each sha256
                for photo, sha, cut in s.execute(query):
                    if sha not in found:
                        found[sha], chosen[photo] = (cut, []), sha
                lines = select(WordLine.photo, WordLine.text, WordLine.box, WordLine.confidence)
                lines = lines.where(WordLine.photo.in_(chosen), WordLine.box != "null")
                for photo, said, box, confidence in s.execute(lines.order_by(WordLine.id)):
                    found[chosen[photo]][1].append((said, json.loads(box), confidence))
        return found

    def store_readings(self, readings: list[tuple[int, str, str | None, list]]) -> None:
        """Store a batch of photos' lines in one transaction, replacing older ones: each
        (photo id, sha256 read, cut, [(text, box, confidence)])."""
        ids = [r[0] for r in readings]
        with self._session(write=True) as s:
            generation = next_generation(s)
            _drop(s, ids)
            s.add_all(
                Reading(photo=i, sha256=sha, cut=cut, generation=generation)
                for i, sha, cut, _ in readings
            )
            lines, gram_rows = [], set()
            for photo, _, _, read in readings:
                for text, box, confidence in read:
                    folded = fold(text)
                    lines.append(
                        dict(
                            photo=photo,
                            text=text,
                            folded=folded,
                            box=json.dumps(box),
                            confidence=confidence,
                        )
                    )
                    gram_rows |= {(g, photo) for g in grams(folded)}
            if lines:
                s.execute(insert(WordLine), lines)
            if gram_rows:
                s.execute(insert(WordGram), [dict(gram=g, photo=p) for g, p in sorted(gram_rows)])

    def drop_stale_words(self) -> int:
        """Drop the words of photos removed, failed or changed since they were read; the
        number of photos whose words went."""
        with self._session(write=True) as s:
            live = select(Photo.id).where(
                Photo.id == Reading.photo, Photo.sha256 == Reading.sha256, Photo.status == OK
            )
            stale = list(s.scalars(select(Reading.photo).where(not_(live.exists()))))
            _drop(s, stale)
            return len(stale)

    def cuts(self) -> list[tuple[str, str]]:
        """(path, why) of the photos whose reading was cut short."""
        with self._session() as s:
            rows = s.execute(
                select(Photo.path, Reading.cut)
                .join(Reading, Reading.photo == Photo.id)
                .where(Reading.cut.is_not(None))
                .order_by(Photo.path)
            )
            return [tuple(r) for r in rows]

    def gram_shares(self, wanted: list[str]) -> dict[str, float]:
        """The share of the photos holding each bigram, estimated from WINDOWS stretches of WIDTH
        ids spread over the photos' (exact in a catalog of fewer): which bigram to intersect
        first, not a count to show. A few thousand index entries a bigram at most, where a count
        of one every photo holds reads a million."""
        with self._session() as s:
            top = s.scalar(select(func.max(Photo.id))) or 0
            if top > WINDOWS * WIDTH:
                # each window at a scattered place in its stretch: ids at round numbers are
                # names at round numbers too, in a library named IMG_0001... in order
                step, width, windows = top // WINDOWS, WIDTH, WINDOWS
                starts = [k * step + k * 7919 % max(step - width, 1) for k in range(WINDOWS)]
            else:  # every photo, in the first window; the others empty
                width, windows = top + 1, 1
                starts = [0] + [-width] * (WINDOWS - 1)
            bounds = {f"lo{k}": lo for k, lo in enumerate(starts)}
            counted = dict(s.execute(_SHARES, dict(bounds, wanted=wanted, width=width)).all())
            return {g: counted.get(g, 0) / (width * windows) for g in wanted}

    def words_lines(
        self, rounds: list[list[tuple[list, list[int]]]], most: int, needle: str, halves: list[str]
    ) -> list[tuple]:
        """The lines holding `needle` or, a file's or folder's name left out, one of `halves`,
        of the OK photos holding every bigram of a side ([(bigram, share)], rarest first): the
        first `most` by id a side. `rounds` are of narrower sides: [(side, its parents: indexes
        in the round before)]; one is asked for where its parents were all cut at `most`, past
        the last photo of any (up to there, each parent holds it); a side None stands for its
        parent, as cut. The B-tree on (gram, photo) chooses; a LIKE reads.

        Returns:
            [(photo, text, folded, box as JSON, confidence)], in no order.
        """
        with self._session() as s:
            dialect = s.get_bind().dialect.name
            if dialect == "postgresql":
                # Workers (two planned for a range of 50 000 photos) take 10 ms to start, more
                # than the merge they share on a few cores: none, for this transaction only.
                s.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            photos: set[int] = set()
            cut: list[int | None] = []  # the round before's: each side's last photo, if cut
            for sides in rounds:
                after = [
                    max((cut[p] for p in parents), default=0)
                    if all(cut[p] is not None for p in parents)
                    else None
                    for _, parents in sides
                ]
                asked = [i for i, (side, _) in enumerate(sides) if side and after[i] is not None]
                held = _each_holding(s, [(sides[i][0], after[i]) for i in asked], most, dialect)
                cut = [
                    a if side is None else None for (side, _), a in zip(sides, after, strict=True)
                ]
                for i, found in zip(asked, held, strict=True):
                    photos.update(found)
                    cut[i] = max(found) if len(found) >= most else None
                if all(c is None for c in cut):
                    break
            holds = [WordLine.folded.contains(needle, autoescape=True)]
            if halves:
                half = or_(*(WordLine.folded.contains(h, autoescape=True) for h in halves))
                holds.append(and_(WordLine.box != "null", half))
            if dialect == "postgresql":  # one array, not 3000 parameters
                among = WordLine.photo == any_(bindparam("photos", sorted(photos), ARRAY(Integer)))
            else:
                among = WordLine.photo.in_(sorted(photos))
            rows = s.execute(
                select(
                    WordLine.photo,
                    WordLine.text,
                    WordLine.folded,
                    WordLine.box,
                    WordLine.confidence,
                )
                .join(Photo, Photo.id == WordLine.photo)
                .where(among, Photo.status == OK, or_(*holds))
            )
            return [tuple(r) for r in rows]


def _each_holding(s, asked: list[tuple[list, int]], most: int, dialect: str) -> list[list[int]]:
    # [(side, after)]: one statement, each side's photos labelled with its index
    each = [_holding(side, dialect == "sqlite", most, after) for side, after in asked]
    each = [select(literal(i), c.c.photo).select_from(c) for i, c in enumerate(each)]
    found: list[list[int]] = [[] for _ in asked]
    if each:
        for i, photo in s.execute(union_all(*each) if len(each) > 1 else each[0]).all():
            found[i].append(photo)
    return found


def _shares():
    # One statement for every lookup (a constant shape, compiled once): a range of the B-tree
    # for each window, whose bounds each database plans with (a join to a list of windows is
    # planned as a million rows, and PostgreSQL then compiles it by JIT for 50 ms).
    wanted, width = bindparam("wanted", expanding=True), bindparam("width")
    held = union_all(
        *(
            select(WordGram.gram).where(
                WordGram.gram.in_(wanted),
                WordGram.photo >= bindparam(f"lo{k}"),
                WordGram.photo < bindparam(f"lo{k}") + width,
            )
            for k in range(WINDOWS)
        )
    ).subquery()
    return select(held.c.gram, func.count()).group_by(held.c.gram)


_SHARES = _shares()


def _holding(side: list[tuple[str, float]], merge: bool, most: int, after: int):
    """The photos past `after` holding every bigram of `side`, in id order, `most` at most.
    The rarest bigram's photos are read from the B-tree and each looked up under the others:
    PostgreSQL's planner merges them instead where that is cheaper; SQLite merges only a
    compound SELECT in order, used for the two rarest where the second is not much more held
    (stepping through both ranges costs a tenth of a lookup an entry, but all the second's)."""
    (first, least), rest = side[0], side[1:]
    held = select(WordGram.photo).where(WordGram.gram == first, WordGram.photo > after)
    merged = merge and rest and rest[0][1] <= MERGE * max(least, 1e-9)
    if merged:
        other = select(WordGram.photo).where(WordGram.gram == rest[0][0], WordGram.photo > after)
        held, rest = intersect(held, other).order_by("photo"), rest[1:]
    held = held.subquery()
    probes = []
    for g, _ in rest:
        also = WordGram.__table__.alias()  # a Core alias: an ORM one costs 0.3 ms to set up
        probes.append(
            exists().where(also.c.gram == g, also.c.photo == held.c.photo, also.c.photo > after)
        )
    chosen = select(held.c.photo).where(*probes)
    # An outer ORDER BY would make SQLite drop the merge's (and sort the lot): its rows are
    # read in the merge's order, so the limit keeps the first by id all the same.
    return (chosen if merged else chosen.order_by(held.c.photo)).limit(most).subquery()


def _drop(s, ids: list[int]) -> None:
    """The words of the photos `ids` gone: `word_grams` is keyed by gram first, so their rows are
    found by (gram, photo) from the lines' folded text (by photo, each chunk was a scan of the
    whole table: quadratic over a first reading of a library)."""
    for chunk in in_chunks(ids):
        lines = s.execute(select(WordLine.photo, WordLine.folded).where(WordLine.photo.in_(chunk)))
        keys = sorted({(g, photo) for photo, folded in lines for g in grams(folded)})
        for part in in_chunks(keys):
            s.execute(delete(WordGram).where(tuple_(WordGram.gram, WordGram.photo).in_(part)))
        s.execute(delete(WordLine).where(WordLine.photo.in_(chunk)))
        s.execute(delete(Reading).where(Reading.photo.in_(chunk)))
