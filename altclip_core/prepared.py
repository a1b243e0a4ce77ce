"""A text tower prepared for search and kept in the cache folder: the checkpoint's text tower as an
ONNX graph in int8 (`text_onnx.py`), run by ONNX Runtime. A search process then needs neither
torch (a second to import) nor the checkpoint: `load` maps one file and hands its tensors to ONNX
Runtime, which packs the int8 weights for this CPU; the word-embedding matrix (1 GB of XLM-R's in
float32) stays in the file's pages, which the kernel shares and may drop, not in the process's
own memory. No torch here: `make`, which reads the checkpoint, imports it.

A file is safetensors: the graph's tensors by name, and in its `__metadata__` the graph, what it
was made from (the checkpoint's fingerprint and folder), the weights' kind (int8, or uint8 around
128 on an x86 CPU without VNNI), ONNX Runtime's version and the format. It is used only where
that is what is in front of it; one that is missing, stale or damaged (a header, size or tensor
unlike its graph's: ONNX Runtime checks each tensor it is fed, `PreparedText` the word
embeddings; a hash of a few pages of each tensor, `sample`) is made again, never trusted. The
bytes are not all hashed on loading, which would read the whole file that mapping spares; files
are written whole or not at all (cache.write). Making one removes the others made from the same
checkpoint folder.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# ONNX Runtime queues a telemetry event per process for Microsoft's collector unless told not to
# (~/.cache/Microsoft/DeveloperTools/.onnxruntime); indexer/ocr.py imports it from here.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402

from . import cache
from .errors import AltCLIPError
from .families import family, read_config
from .texts import IDS, MASK, PROBABILITIES, WORDS, batches, labelled, normalised

FORMAT = "onnx-1"
DTYPES = {"F32": np.float32, "I64": np.int64, "I8": np.int8, "U8": np.uint8}
KERNEL = "onnxruntime-int8"  # what `kernels` reports for a prepared tower
HEADER_MAX = 1 << 26  # bytes: a header longer than this is a damaged size, not read
STALE_S = 3600  # a part-written file this much older than its last write is a killed write's


class PreparedText:
    """The prepared text tower: `embed_text`, `encode_text`, `embed_labels` and `classify` as
    `model.CLIP`'s, in numpy; `tokenizer`, `dim`, `kernels`. `graph` and `tensors`:
    `text_onnx.build`'s; `meta`: what a file of it records."""

    def __init__(self, graph: bytes, tensors: dict[str, np.ndarray], folder: Path, meta: dict):
        self.graph, self.tensors, self.folder, self.meta = graph, tensors, folder, meta
        self.words = tensors[WORDS]  # looked up here, in the file's pages (text_onnx.words)
        fed = {k: ort.OrtValue.ortvalue_from_numpy(a) for k, a in tensors.items() if k != WORDS}
        options = ort.SessionOptions()
        options.add_external_initializers(list(fed), list(fed.values()))  # checked by the graph
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        config = read_config(folder)
        self.family = family(config.model_type)
        self.tokenizer = self.family.read_tokenizer(folder, config.text_config.max_tokens)
        width = next(i.shape[2] for i in self.session.get_inputs() if i.name == WORDS)
        rows = config.text_config.vocab_size
        if self.words.dtype != np.float32 or self.words.shape != (rows, width):
            raise ValueError(f"the word embeddings are {self.words.dtype} {self.words.shape}")
        self.logit_scale = float(meta["logit_scale"])
        if not math.isfinite(self.logit_scale):
            raise ValueError(f"logit_scale {self.logit_scale}")
        self.dim = self.session.get_outputs()[0].shape[1]
        self.kernels = {"text": KERNEL}

    def embed_text(self, texts: str | Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Texts -> [N, dim] float32, normalised."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = np.empty((len(texts), self.dim), np.float32)
        for batch in batches(texts, batch_size):
            out[batch] = self.encode_text(*self.tokenizer.encode([texts[j] for j in batch]))
        return out

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Token ids and mask, int64 [N, L] -> [N, dim] float32, normalised."""
        inputs = {IDS: input_ids, MASK: attention_mask, WORDS: self.words[input_ids]}
        return normalised(self.session.run(None, inputs)[0])

    def embed_labels(self, labels: Sequence[str], template=None) -> np.ndarray:
        texts, count = labelled(labels, template)
        emb = self.embed_text(texts).reshape(len(labels), count, self.dim)
        return normalised(emb.mean(axis=1))

    def classify(self, vectors: np.ndarray, labels: Sequence[str], template=None) -> np.ndarray:
        """[N, L] probabilities of image embeddings `vectors` [N, dim] for `labels`."""
        images = normalised(np.asarray(vectors, np.float32))
        logits = math.exp(self.logit_scale) * images @ self.embed_labels(labels, template).T
        return PROBABILITIES[self.family.logits](logits)


def made_of(fingerprint: str) -> dict[str, str]:
    """What a tower prepared here from the checkpoint `fingerprint` depends on: the format, the
    checkpoint, the weights' kind (`signed_weights`) and ONNX Runtime's version (whose kernels
    the int8 check measured)."""
    signed = str(signed_weights())
    return {"format": FORMAT, "fingerprint": fingerprint, "signed": signed, "ort": ort.__version__}


def path(fingerprint: str) -> Path:
    """Where the text tower of the checkpoint `fingerprint` is kept on this machine."""
    key = cache.key("prepared text", *made_of(fingerprint).values())
    return cache.folder() / "prepared" / f"text-{key}.safetensors"


def signed_weights() -> bool:
    """int8 weights where the CPU multiplies them exactly by uint8 inputs (x86 with VNNI, or not
    x86); uint8 around 128 on other x86 CPUs, which sum such pairs in int16."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    return bool({"avx512_vnni", "avx_vnni"} & cache.cpu_flags())


def load(folder: Path, fingerprint: str) -> PreparedText | None:
    """The tower kept from the checkpoint in `folder` (of `fingerprint`) on this machine; None
    where there is none, or it is stale or damaged. Removes the part-written files of killed
    writes."""
    target = path(fingerprint)
    for part in target.parent.glob("*.part"):  # a write killed midway (as large as a tower),
        with contextlib.suppress(OSError):  # not one another process is writing now
            if time.time() - part.stat().st_mtime > STALE_S:
                part.unlink()
    found = _read(target)
    if found is None:
        return None
    meta, tensors = found
    if any(meta.get(k) != v for k, v in made_of(fingerprint).items()):
        return None
    if meta.get("sample") != sample(tensors):  # another model's tensors, or moved bytes
        return None
    try:
        return PreparedText(base64.b64decode(meta["graph"]), tensors, folder, meta)
    except AltCLIPError:  # the checkpoint's own (its config, its tokenizer): said as they are
        raise
    except Exception:  # onnxruntime's (a tensor unlike its graph's, a damaged graph), base64's
        return None


def make(folder: Path, fingerprint: str) -> PreparedText:
    """The text tower of the checkpoint in `folder` (of `fingerprint`) prepared, in memory
    (`keep` keeps it)."""
    from .text_onnx import build

    graph, tensors, logit_scale = build(folder, int8=True, signed=signed_weights())
    meta = made_of(fingerprint) | {
        "source": str(folder.resolve()),
        "logit_scale": repr(logit_scale),
        "graph": base64.b64encode(graph).decode(),
        "sample": sample(tensors),
    }
    return PreparedText(graph, tensors, folder, meta)


def sample(tensors: dict[str, np.ndarray]) -> str:
    """A hash of each tensor's first, middle and last 4 KB (all of a smaller one): what tells a
    file's tensors from another model's, or from bytes moved, at the cost of a few pages where
    hashing the whole file would read it all (a flipped byte elsewhere is not seen)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        raw = tensors[name].reshape(-1).view(np.uint8)
        for start in sorted({0, max(0, len(raw) // 2 - 2048), max(0, len(raw) - 4096)}):
            digest.update(raw[start : start + 4096].tobytes())
        digest.update(name.encode())
    return digest.hexdigest()


def keep(tower: PreparedText) -> PreparedText:
    """Write `tower` (`make`'s) to its file and return it mapped from there (its tensors no
    longer in the process's memory); `tower` itself where the cache folder cannot be written.
    Other files prepared from the same checkpoint folder are removed: made for another model
    there, or in another format, ONNX Runtime or kind of weights, they would not be used again."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    fingerprint, source = tower.meta["fingerprint"], tower.meta["source"]
    target = path(fingerprint)

    def fill(f) -> None:  # by path, from the arrays' own memory, into the file cache.write renames
        try:
            save_file(tower.tensors, f.name, tower.meta)
        except SafetensorError as e:  # a full disk, say: no tower kept, as any cache failure
            raise OSError(str(e)) from e

    cache.write(target, fill)
    for other in target.parent.glob("text-*.safetensors"):
        if other != target and _header(other).get("__metadata__", {}).get("source") == source:
            with contextlib.suppress(OSError):  # another model there, format, ORT or CPU kind
                other.unlink()
    return load(tower.folder, fingerprint) or tower


def _read(target: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """A safetensors file's metadata and tensors, mapped; None where it is missing or its
    header, size or alignment is not what safetensors writes."""
    if not target.is_file():  # nor a FIFO, which would block the open
        return None
    try:
        data = np.memmap(target, np.uint8, "r")  # the header read from it too: one file, even
        start = 8 + int.from_bytes(data[:8].tobytes(), "little")  # if another replaces it now
        if start - 8 > HEADER_MAX:
            return None
        header = json.loads(data[8:start].tobytes())
        meta = header.pop("__metadata__", {})
        tensors, end = {}, start
        for name, spec in header.items():
            dtype, (begin, stop) = np.dtype(DTYPES[spec["dtype"]]), spec["data_offsets"]
            if (
                stop - begin != math.prod(spec["shape"]) * dtype.itemsize
                or (start + begin) % dtype.alignment
            ):
                return None
            tensors[name] = data[start + begin : start + stop].view(dtype).reshape(spec["shape"])
            end = max(end, start + stop)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a header not a dict
        return None
    return (meta, tensors) if end == len(data) and isinstance(meta, dict) else None


def _header(target: Path) -> dict:
    """A safetensors file's header ({} where it cannot be read, or is not a regular file)."""
    if not target.is_file():
        return {}
    try:
        with target.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size)) if size <= HEADER_MAX else {}
    except (OSError, ValueError):
        return {}
    return header if isinstance(header, dict) else {}
