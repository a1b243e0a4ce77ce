"""Tokenizers of the CLIP family, built with the `tokenizers` library the way transformers' fast
tokenizers build them, from the files a checkpoint ships:

- AltCLIP, as `XLMRobertaTokenizer`: Unigram over the checkpoint's vocabulary, the SentencePiece
  `Precompiled` normaliser, whitespace split plus Metaspace, and `<s> $A </s>`. The vocabulary and
  normaliser come from `tokenizer.json`, or, for checkpoints that ship only
  `sentencepiece.bpe.model` (AltCLIP-m9), from that file with the fairseq offset.
- OpenAI CLIP, as `CLIPTokenizer`: byte-level BPE with `</w>` word ends after NFC, whitespace runs
  made one space and lower-casing; `<|startoftext|> $A <|endoftext|>`. Vocabulary and merges come
  from `tokenizer.json`, else `vocab.json` and `merges.txt`.
- Chinese-CLIP, as `BertTokenizer`: WordPiece after BERT's normaliser (Chinese characters split one
  by one, lower-cased as `tokenizer_config.json` says); `[CLS] $A [SEP]`. The vocabulary comes from
  `tokenizer.json`, else `vocab.txt`.

Special tokens are read from `tokenizer_config.json` and `special_tokens_map.json` as transformers
merges them; the pad token is the checkpoint's (some CLIP checkpoints pad with `!`).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    normalizers,
    pre_tokenizers,
    processors,
)
from tokenizers.models import BPE, Unigram, WordPiece

from .errors import CheckpointError

if TYPE_CHECKING:
    import torch

BOS, PAD, EOS, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"
# CLIPTokenizer's split before byte-level BPE: its special tokens, English contractions, letter
# runs, single digits, other symbol runs; whitespace is dropped.
CLIP_SPLIT = (
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"""
    r"""|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
)


class TextTokenizer:
    """Callable: a list of strings -> (input_ids, attention_mask), LongTensors [N, L] padded to the
    longest item with the checkpoint's pad token and truncated at `max_tokens` (special tokens
    included, so the end token is kept)."""

    def __init__(self, backend: Tokenizer, pad_token: str, max_tokens: int):
        pad_id = backend.token_to_id(pad_token)
        if pad_id is None:
            raise CheckpointError(f"the pad token {pad_token!r} is not in the vocabulary")
        backend.enable_truncation(max_length=max_tokens)
        backend.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self.backend, self.max_tokens = backend, max_tokens

    @classmethod
    def xlm_roberta(cls, folder: Path, max_tokens: int = 512) -> TextTokenizer:
        """AltCLIP's tokenizer from `tokenizer.json` or `sentencepiece.bpe.model`."""
        if (folder / "tokenizer.json").is_file():
            vocab, charsmap = _read_tokenizer_json(folder / "tokenizer.json")
        elif (folder / "sentencepiece.bpe.model").is_file():
            vocab, charsmap = _read_sentencepiece(folder / "sentencepiece.bpe.model")
        else:
            raise CheckpointError(f"no tokenizer.json or sentencepiece.bpe.model in {folder}")
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
        _add_special(tok, BOS, PAD, EOS, UNK, MASK)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A {EOS}", special_tokens=[(BOS, 0), (EOS, 2)]
        )
        return cls(tok, PAD, max_tokens)

    @classmethod
    def clip(cls, folder: Path, max_tokens: int = 77) -> TextTokenizer:
        """OpenAI CLIP's tokenizer from `tokenizer.json`, else `vocab.json` and `merges.txt`."""
        special = _special_tokens(folder)
        bos = special.get("bos_token", "<|startoftext|>")
        eos = special.get("eos_token", "<|endoftext|>")
        unk = special.get("unk_token", "<|endoftext|>")
        pad = special.get("pad_token", "<|endoftext|>")
        if (folder / "tokenizer.json").is_file():
            model = _tokenizer_json(folder / "tokenizer.json", "BPE")["model"]
            vocab = model["vocab"]
            merges = [tuple(m.split(" ") if isinstance(m, str) else m) for m in model["merges"]]
        elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            vocab, merges = BPE.read_file(str(folder / "vocab.json"), str(folder / "merges.txt"))
        else:
            raise CheckpointError(f"no tokenizer.json, or vocab.json and merges.txt, in {folder}")
        tok = Tokenizer(
            BPE(
                vocab,
                merges,
                continuing_subword_prefix="",
                end_of_word_suffix="</w>",
                fuse_unk=False,
                unk_token=unk,
            )
        )
        tok.normalizer = normalizers.Sequence(
            [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
        )
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False),
            ]
        )
        tok.decoder = decoders.ByteLevel()
        _add_special(tok, bos, eos, unk, pad)
        tok.post_processor = processors.RobertaProcessing(
            (eos, tok.token_to_id(eos)), (bos, tok.token_to_id(bos)), False, False
        )
        return cls(tok, pad, max_tokens)

    @classmethod
    def bert(cls, folder: Path, max_tokens: int = 512) -> TextTokenizer:
        """Chinese-CLIP's tokenizer from `tokenizer.json`, else `vocab.txt`."""
        special = _special_tokens(folder)
        unk, sep = special.get("unk_token", "[UNK]"), special.get("sep_token", "[SEP]")
        pad, cls_token = special.get("pad_token", "[PAD]"), special.get("cls_token", "[CLS]")
        mask = special.get("mask_token", "[MASK]")
        if (folder / "tokenizer.json").is_file():
            vocab = _tokenizer_json(folder / "tokenizer.json", "WordPiece")["model"]["vocab"]
        elif (folder / "vocab.txt").is_file():
            vocab = WordPiece.read_file(str(folder / "vocab.txt"))
        else:
            raise CheckpointError(f"no tokenizer.json, or vocab.txt, in {folder}")
        tok = Tokenizer(WordPiece(vocab, unk_token=unk))
        tok.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=special.get("tokenize_chinese_chars", True),
            strip_accents=special.get("strip_accents"),
            lowercase=special.get("do_lower_case", True),
        )
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        _add_special(tok, unk, sep, pad, cls_token, mask)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls_token} $A {sep}",
            special_tokens=[(cls_token, tok.token_to_id(cls_token)), (sep, tok.token_to_id(sep))],
        )
        return cls(tok, pad, max_tokens)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def __call__(self, texts: str | Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch  # here: a search's prepared text tower runs without torch (`encode`)

        return tuple(map(torch.from_numpy, self.encode(texts)))

    def encode(self, texts: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """As calling it, as int64 arrays."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        encodings = self.backend.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask


def _add_special(tok: Tokenizer, *tokens: str) -> None:
    """Special tokens are matched before normalisation, as transformers adds them."""
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in tokens])


def _special_tokens(folder: Path) -> dict:
    """`tokenizer_config.json` with `special_tokens_map.json` over it, as transformers merges them
    (it ignores the map where the config lists `added_tokens_decoder`); `{"content": t}` -> t."""
    settings = _read_json(folder / "tokenizer_config.json")
    if "added_tokens_decoder" not in settings:
        settings.update(_read_json(folder / "special_tokens_map.json"))
    return {
        k: v["content"] if isinstance(v, dict) and "content" in v else v
        for k, v in settings.items()
        if v is not None
    }


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"unreadable {path}: {e}") from e


def _tokenizer_json(path: Path, kind: str) -> dict:
    """The `tokenizer.json` at `path`, if its model is of `kind` (Unigram, BPE, WordPiece)."""
    spec = _read_json(path)
    found = spec.get("model", {}).get("type")
    if found != kind:
        raise CheckpointError(f"{path} holds a {found} tokenizer where this model needs {kind}")
    return spec


def _read_tokenizer_json(path: Path) -> tuple[list[tuple[str, float]], bytes | None]:
    spec = _tokenizer_json(path, "Unigram")
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
