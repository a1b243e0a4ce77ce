"""The reading pass: the words in the library's photos (indexer/read.py reads one), run at the end
of every run that publishes (store.publish), after the embedding, on the driver, AT_ONCE photos
at a time.

Which photos: the OK photos with no `readings` row for their bytes (Catalog.needing_reading), so
a library indexed before (or with --no-words) gets its words on its next run without a photo
embedded again, and a photo whose bytes changed is read again. A photo whose bytes were read
before (moved, renamed: a new row; a copy) gets those words, not read again (read_before). What
is read: the library's preview of the photo (1600 px, the reader's own size), else the original
within the run's decode limits. A batch of BATCH photos is one transaction
(Catalog.store_readings): a kill loses at most that batch, and the rerun reads what has no row. A
photo that cannot be read now (the file gone meanwhile, unreadable) gets a row with its reason
as `cut`, so that it is not tried on every run; a change to its bytes brings it back. The file's
name and its folder's are stored as one more line, without a box (`named`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from altclip_core.errors import ImageError
from altclip_core.preprocess import open_image
from search.catalog import Catalog
from search.images import stored_picture

from .ocr import MAX_SIDE, Read, Reader
from .read import read_photo

BATCH = 16  # photos per transaction
# Photos read at once, each onnxruntime run on one thread (its session is shared): on 2 cores, two
# at once read 64 photos in 4.6 s, one at a time with two threads in 5.9 s, with one 7.9 (Zen 4).
AT_ONCE = min(len(os.sched_getaffinity(0)), 4)


@dataclass
class Reading:
    """The pass over `library` with the run's decode limits; the reader loaded at first need."""

    library: Path
    max_megapixels: float
    max_file_mb: float
    reader: Reader | None = None

    def run(self, catalog: Catalog, stop: threading.Event | None = None) -> int:
        """Read every photo that needs it, a batch per transaction. Returns how many were read."""
        done, after = 0, 0
        with ThreadPoolExecutor(AT_ONCE, thread_name_prefix="altclip-read") as pool:
            while not (stop is not None and stop.is_set()):
                todo = catalog.needing_reading(after, BATCH)
                if not todo:
                    break
                known = catalog.read_before([sha256 for _, sha256, _ in todo])
                fresh = [row for row in todo if row[1] not in known]
                if fresh and self.reader is None:
                    self.reader = Reader()
                read = {r[0]: r for r in pool.map(lambda row: self._read(*row), fresh)}
                for photo, sha256, path in todo:
                    if photo not in read:  # its bytes were read before: their words, its name
                        cut, lines = known[sha256]
                        read[photo] = photo, sha256, cut, [*lines, named(path)]
                catalog.store_readings(list(read.values()))
                done, after = done + len(todo), todo[-1][0]
        return done

    def _read(self, photo: int, sha256: str, path: str) -> tuple:
        preview = stored_picture(self.library, sha256, "previews")
        try:
            if preview is not None:
                image = Image.open(preview)
            else:
                image = open_image(path, MAX_SIDE, self.max_megapixels, self.max_file_mb)
            with image:
                read = read_photo(self.reader, image)
        except (ImageError, OSError) as e:
            return photo, sha256, f"not read: {e}", [named(path)]
        return photo, sha256, read.cut, [*lines(read), named(path)]


def named(path: str) -> tuple[str, None, float]:
    """The photo's file name and its folder's, stored as a line without a box, so that the
    lookup finds names through the same bigram index as words (a LIKE over every path took
    0.5 s at a million photos)."""
    where = Path(path)
    said = f"{where.parent.name}/{where.stem}"  # bytes that are not UTF-8 as U+FFFD
    return (
        os.fsencode(said).decode("utf-8", "replace"),
        None,
        0.0,
    )  # not ".jpg": every photo has one


def lines(read: Read) -> list[tuple[str, list, float]]:
    """A read's lines as stored: (text, box as fractions of the photo's width and height,
    confidence)."""
    w, h = read.size
    return [
        (
            line.text,
            [[round(x / w, 4), round(y / h, 4)] for x, y in line.box],
            round(float(line.confidence), 4),
        )
        for line in read.lines
    ]
