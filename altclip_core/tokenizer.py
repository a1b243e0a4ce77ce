"""XLM-R tokenizer, built with the `tokenizers` library the way transformers' `XLMRobertaTokenizer`
builds it: Unigram over the checkpoint's vocabulary, the SentencePiece `Precompiled` normaliser,
whitespace split plus Metaspace, and `<s> $A </s>`. The vocabulary and normaliser come from
`tokenizer.json`, or, for checkpoints that ship only `sentencepiece.bpe.model` (AltCLIP-m9), from
that file with the fairseq offset.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from .errors import CheckpointError

BOS, PAD, EOS, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"
PAD_ID = 1


class TextTokenizer:
    """Callable: a list of strings -> (input_ids, attention_mask), LongTensors [N, L] padded to the
    longest item with `<pad>` and truncated at `max_tokens` (special tokens included)."""

    def __init__(
        self, vocab: list[tuple[str, float]], charsmap: bytes | None, max_tokens: int = 512
    ):
        tok = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
        if charsmap:
            tok.normalizer = normalizers.Precompiled(charsmap)
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace("▁", prepend_scheme="always"),
            ]
        )
        tok.decoder = decoders.Metaspace("▁", prepend_scheme="always")
        tok.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in (BOS, PAD, EOS, UNK, MASK)]
        )
        tok.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A {EOS}", special_tokens=[(BOS, 0), (EOS, 2)]
        )
        tok.enable_truncation(max_length=max_tokens)
        tok.enable_padding(pad_id=PAD_ID, pad_token=PAD)
        self.backend, self.max_tokens = tok, max_tokens

    @classmethod
    def from_folder(cls, folder: Path, max_tokens: int = 512) -> TextTokenizer:
        if (folder / "tokenizer.json").is_file():
            vocab, charsmap = _read_tokenizer_json(folder / "tokenizer.json")
        elif (folder / "sentencepiece.bpe.model").is_file():
            vocab, charsmap = _read_sentencepiece(folder / "sentencepiece.bpe.model")
        else:
            raise CheckpointError(f"no tokenizer.json or sentencepiece.bpe.model in {folder}")
        return cls(vocab, charsmap, max_tokens)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def __call__(self, texts: str | Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        encodings = self.backend.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        return ids, mask


def _read_tokenizer_json(path: Path) -> tuple[list[tuple[str, float]], bytes | None]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    if spec.get("model", {}).get("type") != "Unigram":
        raise CheckpointError(f"{path} is not a Unigram (XLM-R) tokenizer")
    vocab = [(piece, float(score)) for piece, score in spec["model"]["vocab"]]
    norm = spec.get("normalizer") or {}
    for n in norm.get("normalizers", [norm]):
        if n.get("type") == "Precompiled" and n.get("precompiled_charsmap"):
            return vocab, base64.b64decode(n["precompiled_charsmap"])
    return vocab, None


def _read_sentencepiece(path: Path) -> tuple[list[tuple[str, float]], bytes | None]:
    """Vocabulary as transformers converts XLM-R's SentencePiece model: `<s> <pad> </s> <unk>`,
    then the pieces from spm id 3 on (so HF id = spm id + 1), then `<mask>`."""
    pieces, charsmap = [], None
    for field, value in _proto_fields(path.read_bytes()):
        if field == 1:  # ModelProto.pieces: SentencePiece {1: piece, 2: score}
            piece = dict(_proto_fields(value))
            pieces.append(
                (piece[1].decode("utf-8"), struct.unpack("<f", piece.get(2, b"\0" * 4))[0])
            )
        elif field == 3:  # ModelProto.normalizer_spec {2: precompiled_charsmap}
            charsmap = dict(_proto_fields(value)).get(2)
    if len(pieces) < 4:
        raise CheckpointError(f"{path} is not a SentencePiece model")
    return [(BOS, 0.0), (PAD, 0.0), (EOS, 0.0), (UNK, 0.0), *pieces[3:], (MASK, 0.0)], charsmap


def _proto_fields(buf: bytes) -> Iterator[tuple[int, bytes | int]]:
    """(field number, value) pairs of one serialized protobuf message; enough for a .model."""

    def varint(i: int) -> tuple[int, int]:
        shift = result = 0
        while True:
            byte = buf[i]
            result |= (byte & 0x7F) << shift
            i, shift = i + 1, shift + 7
            if byte < 0x80:
                return result, i

    i = 0
    while i < len(buf):
        key, i = varint(i)
        wire = key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire == 2:
            n, i = varint(i)
            value, i = buf[i : i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i : i + n], i + n
        else:
            raise CheckpointError(f"unreadable SentencePiece model (wire type {wire})")
        yield key >> 3, value
