"""Which tower answers: a library's text and image towers, each loaded on its first use (opening
a library loads neither; a text query never loads the image tower), the text tower in int8 on CPU
where it checks itself against the exact one, and the vectors of recent text queries, so that a
text asked again is not embedded again.

The int8 text tower is the default on CPU: the checkpoint's text tower prepared for ONNX Runtime
(altclip_core's `prepared`), which a search process runs without importing torch. Its check
embeds INT8_PROBES both ways once per model, machine and ONNX Runtime (the verdict kept in the
cache folder); a tower that passes is kept there too, so that later opens map it from that file
instead of reading the checkpoint. Elsewhere (CUDA, MPS), where the check fails, or with
int8=False, the exact (unquantised) PyTorch tower answers.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
from PIL import Image
from threadpoolctl import ThreadpoolController

from altclip_core import hub
from search.catalog import Model
from search.hits import SearchError

# Sentences the int8 text tower must embed as the exact one does, in the languages people use.
INT8_PROBES = [
    "海边的日落",
    "a dog running on the grass",
    "家人在公园里的合影",
    "snow on the mountains",
]
TEXT_CACHE = 256  # text query vectors kept per library
TOWERS = ("text", "vision")


class Towers:
    """The towers of the model a library was built with.

    `text` and `vision` are the towers (altclip_core's), loaded on first use, one load at a time
    however many threads ask; `loaded()` says which are loaded so far. `embed_text` keeps the
    vectors of the last `TEXT_CACHE` texts; `forget_texts` drops them. After a rebuild with
    another model, `follow` swaps to it and drops both. With `int8` (the default) the text tower
    is int8 on CPU where its check reaches `int8_min_cosine`; `int8_cosine` is what it reached.
    """

    def __init__(self, model: Model, device: str | None, int8: bool = True):
        self.model_name, self.fingerprint = model.name, model.fingerprint
        self.device, self.int8 = device, int8
        self.int8_cosine: float | None = None  # the int8 text tower's check, once it has run
        # The cache folder the int8 text tower could not be written to (read-only, full): each
        # process prepares it again, seconds and GBs, until that is put right. None: kept.
        self.unwritable_cache: Path | None = None
        # The cosine the int8 text tower must reach, to be set before the text tower loads;
        # None: altclip_core.cache.INT8_MIN_COSINE.
        self.int8_min_cosine: float | None = None
        self._towers: dict[str, object] = {}
        self._texts: dict[str, np.ndarray] = {}  # recent texts' vectors, oldest first
        self._tower_lock, self._text_lock = threading.Lock(), threading.Lock()

    @property
    def text(self):
        """The text tower (int8 where asked for, on CPU, where it checks itself), loaded on
        first use."""
        return self.tower("text")

    @property
    def vision(self):
        """The image tower, loaded on first use."""
        return self.tower("vision")

    def tower(self, name: str):
        """The tower `name` ("text" or "vision"), loaded on first use; a SearchError where the
        model at the library's model name is no longer the one the library was built with."""
        if name not in TOWERS:
            raise ValueError(f"a tower is one of {TOWERS}, not {name!r:.40}")
        with self._tower_lock:
            if name not in self._towers:
                import altclip_core

                folder = hub.resolve(self.model_name)
                if not hub.same_weights(folder, self.fingerprint):
                    raise SearchError(
                        f"the model at {self.model_name} is not the one this library was built "
                        "with; re-index with  altclip-index --rebuild"
                    )
                if name == "text" and self.int8:
                    tower = self._int8_text(folder)
                else:
                    tower = altclip_core.load(folder, device=self.device, towers=(name,))
                self._towers[name] = tower
                _numpy_blas_on_one_thread()
            return self._towers[name]

    def loaded(self) -> frozenset[str]:
        """The towers loaded so far ("text", "vision"), loading none."""
        with self._tower_lock:
            return frozenset(self._towers)

    def follow(self, model: Model) -> bool:
        """Query with `model` from now on, where it is another than this one (a rebuild): its
        towers load on their next use, and no text vector of the old one is kept. Returns
        whether the model changed."""
        if model.fingerprint == self.fingerprint:
            return False
        with self._tower_lock, self._text_lock:
            self.model_name, self.fingerprint = model.name, model.fingerprint
            self._towers.clear()
            self._texts.clear()
            self.int8_cosine = self.unwritable_cache = None  # the new model's, once it loads
        return True

    def embed_text(self, text: str) -> np.ndarray:
        """`text`'s normalised vector [D] from the text tower, kept for the next few queries."""
        return self.embed_texts([text])[0]

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """[len(texts), D]: the texts not embedded lately in one pass (the weights read once)."""
        with self._text_lock:
            known = {t: self._texts[t] for t in texts if t in self._texts}
        new = list(dict.fromkeys(t for t in texts if t not in known))
        if new:
            fingerprint = self.fingerprint
            vectors = np.asarray(self.text.embed_text(new))
            known |= dict(zip(new, vectors, strict=True))
            with self._text_lock:
                if self.fingerprint == fingerprint:  # no rebuild's new model meanwhile
                    self._texts |= {t: known[t] for t in new}
                while len(self._texts) > TEXT_CACHE:
                    self._texts.pop(next(iter(self._texts)))  # the oldest
        return np.stack([known[t] for t in texts])

    def forget_texts(self) -> None:
        """Drop the kept text vectors: the next query of each text embeds it again."""
        with self._text_lock:
            self._texts.clear()

    def cut(self, text: str) -> str | None:
        """The part of `text` the text tower reads, where its tokenizer cuts it at the token
        limit; None where it reads all of it."""
        encoding = self.text.tokenizer.backend.encode(text)
        if not encoding.overflowing:
            return None
        end = max((stop for start, stop in encoding.offsets if stop > start), default=0)
        return text[:end]

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """A decoded image's normalised vector [D] from the image tower."""
        return self.vision.embed_images([image])[0].numpy()

    def _int8_text(self, folder: Path):
        """The prepared int8 text tower (altclip_core's `prepared`: ONNX Runtime, no torch) if
        it embeds INT8_PROBES within `int8_min_cosine` of the exact one, else the exact one: how
        far int8 moves embeddings depends on the weights. The check runs when the tower is first
        prepared, against the exact tower in float32, once per model, machine and ONNX Runtime;
        its verdict is kept, and so is a tower that passes, from where later opens map it. On a
        device other than the CPU (named, or the default where none is) the exact tower."""
        import altclip_core
        from altclip_core import cache, prepared

        def exact(dtype=None):
            return altclip_core.load(folder, self.device, dtype, towers=("text",))

        if self.device is not None and str(self.device).partition(":")[0] != "cpu":
            return exact()
        made_of = prepared.made_of(self.fingerprint).values()
        bar = self.int8_min_cosine
        bar = cache.INT8_MIN_COSINE if bar is None else bar
        self.int8_cosine = cache.remembered("int8 text", *made_of)
        if self.int8_cosine is None or self.int8_cosine >= bar:
            kept = self.int8_cosine is not None and prepared.load(folder, self.fingerprint)
            if kept:
                return kept
            import torch

            if self.device is not None or altclip_core.default_device().type == "cpu":
                want = exact(torch.float32).embed_text(INT8_PROBES).numpy()  # then let go
                tower = prepared.make(folder, self.fingerprint)
                self.int8_cosine = float((want * tower.embed_text(INT8_PROBES)).sum(-1).min())
                cache.remember("int8 text", self.int8_cosine, *made_of)
                if self.int8_cosine >= bar:
                    kept = prepared.keep(tower)
                    where = prepared.path(self.fingerprint).parent
                    self.unwritable_cache = where if kept is tower else None  # keep's contract
                    return kept
        return exact()


@functools.cache
def _numpy_blas_on_one_thread() -> None:
    """numpy's BLAS (OpenBLAS: not FAISS's own, nor torch's) on one thread from now on, in this
    process: its threads spin for a while after each call and took the cores a tower's next
    query needed, where a query's numpy work (a vector times its candidates) is small. README,
    bench/live.py: an 8-token query at a million photos, p95 151 -> 42.5 ms on the Zen 4."""
    controller = ThreadpoolController()
    mine = [c.filepath for c in controller.lib_controllers if "numpy" in c.filepath]
    if mine:
        controller.select(filepath=mine).limit(limits=1)  # select ORs its arguments
