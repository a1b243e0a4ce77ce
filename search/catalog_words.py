"""The statements of words in photos (search/words.py, indexer/reading.py): which photos need
reading, a batch of read photos stored (one transaction, the next generation), the words of
photos removed or changed dropped, and the lookup's two queries."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import and_, delete, func, insert, not_, select

from search.schema import OK, Photo, Reading, WordGram, WordLine, in_chunks, next_generation
from search.words import fold, grams

PAGE = 500  # bigram candidates read at a time
# Candidate photos checked at most: a query whose bigrams every photo holds ("img") is answered
# from the 1000 holding the most of them, not by checking a million lines.
CANDIDATES = 1000


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

    def gram_counts(self, wanted: list[str], cap: int) -> dict[str, int]:
        """How many photos hold each bigram, counted up to `cap` (a bounded range of the index)."""
        with self._session() as s:
            return {
                g: s.scalar(
                    select(func.count()).select_from(
                        select(WordGram.photo).where(WordGram.gram == g).limit(cap).subquery()
                    )
                )
                for g in wanted
            }

    def word_candidates(self, wanted: list[str], least: int) -> Iterator[tuple]:
        """The lines of the OK photos holding at least `least` of the bigrams `wanted`, those
        holding the most first, a photo's lines together: (photo, text, folded, box as JSON,
        confidence); the B-tree on (gram, photo) does the choosing."""
        with self._session() as s:
            photos = s.scalars(
                select(WordGram.photo)
                .where(WordGram.gram.in_(wanted))
                .group_by(WordGram.photo)
                .having(func.count() >= least)
                .order_by(func.count().desc(), WordGram.photo)
                .limit(CANDIDATES)
            ).all()
            for chunk in in_chunks(list(photos), PAGE):
                place = {photo: i for i, photo in enumerate(chunk)}
                rows = s.execute(
                    select(
                        WordLine.photo,
                        WordLine.text,
                        WordLine.folded,
                        WordLine.box,
                        WordLine.confidence,
                    )
                    .join(Photo, Photo.id == WordLine.photo)
                    .where(WordLine.photo.in_(chunk), Photo.status == OK)
                ).all()
                yield from sorted(rows, key=lambda r: (place[r[0]], r[3] == "null"))


def _drop(s, ids: list[int]) -> None:
    for chunk in in_chunks(ids):
        for table, column in (
            (Reading, Reading.photo),
            (WordLine, WordLine.photo),
            (WordGram, WordGram.photo),
        ):
            s.execute(delete(table).where(column.in_(chunk)))
