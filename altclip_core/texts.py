"""What a text tower does around its forward pass, whichever runs it (PyTorch's `model.CLIP`, or
ONNX Runtime's `prepared.PreparedText`): texts in batches of like length, labels in templates,
logits made probabilities. No torch here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

# The inputs of a text tower's ONNX graph (`text_onnx`, run by `prepared`): token ids and mask,
# int64 [B, L], and the ids' rows of the word-embedding matrix [B, L, D], which is kept in a
# prepared file under the same name.
IDS, MASK, WORDS = "input_ids", "attention_mask", "words"


def batches(texts: Sequence[str], batch_size: int) -> Iterator[list[int]]:
    """The indices of `texts` in batches of like length (a batch is padded to its longest)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for i in range(0, len(texts), batch_size):
        yield order[i : i + batch_size]


def labelled(labels: Sequence[str], template: str | Sequence[str] | None) -> tuple[list[str], int]:
    """The texts that embed `labels`, each label in each template ("a photo of {}"; None: the
    label alone), label by label, and how many templates there are."""
    templates = [template or "{}"] if isinstance(template, str | None) else list(template)
    if not templates or any("{}" not in t for t in templates):
        raise ValueError(f"each template needs a {{}} where the label goes, not {template!r}")
    return [t.replace("{}", label) for label in labels for t in templates], len(templates)


def normalised(x: np.ndarray) -> np.ndarray:
    """Rows of `x` at length 1 (as torch's F.normalize: a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _softmax(logits: np.ndarray) -> np.ndarray:
    if not logits.size:  # no labels, or no images
        return logits
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# Family.logits -> how classify turns logits [N, L] into probabilities.
PROBABILITIES = {"softmax": _softmax}
