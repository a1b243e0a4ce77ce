"""The lean text tower (issue 28): int8 by default on CPU where it checks itself, prepared once in
the cache folder and memory-mapped from there (the checkpoint's weights not read again, the
word-embedding matrix in the file's pages), the same numbers as the int8 tower quantised at load,
and made again, never trusted, for another model or a damaged file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import altclip_core
from altclip_core import hub, kernels, prepared
from search import Library
from search.settings import Settings
from search.towers import Towers

TEXTS = ["海边的日落", "a dog running on the grass", "家人在公园里的合影", "snow"]
VOCAB = 250_002  # XLM-R's: its word-embedding matrix is what a query must not hold in memory
EMBEDDINGS = "text_model.roberta.embeddings.word_embeddings.weight"


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test its own cache folder: its verdicts and prepared towers start from nothing."""
    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def full_vocab(tiny, tmp_path_factory):
    """The tiny checkpoint with XLM-R's full vocabulary ([250002, 32]: 32 MB in float32) and
    1.2 MB of unused tensors at either end of its file, so that the text tower lies outside the
    head and tail that hub.fingerprint reads."""
    folder = tmp_path_factory.mktemp("full-vocab")
    for path in tiny.iterdir():
        if path.name not in ("model.safetensors", "pytorch_model.bin"):
            shutil.copy(path, folder / path.name)
    with safe_open(tiny / "model.safetensors", framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    words = torch.randn(VOCAB, tensors[EMBEDDINGS].shape[1]) * 0.02
    words[: len(tensors[EMBEDDINGS])] = tensors[EMBEDDINGS]
    padding = torch.zeros(300_000)
    tensors |= {EMBEDDINGS: words, "aaa.padding": padding, "zzz.padding": padding.clone()}
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    config["text_config_dict"]["vocab_size"] = VOCAB
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def load(folder: Path, **kw) -> altclip_core.CLIP:
    """The int8 text tower, in float32 (exact comparisons need one dtype on every machine)."""
    return altclip_core.load(folder, "cpu", torch.float32, towers=("text",), quantize="int8", **kw)


def kept(folder: Path) -> Path:
    return prepared.path(hub.fingerprint(folder), torch.float32)


def mapped_from(t: torch.Tensor) -> str | None:
    """The file whose mapping holds `t`'s first byte, None where it is anonymous memory."""
    address = t.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *rest = line.split(maxsplit=5)
        low, high = (int(x, 16) for x in span.split("-"))
        if low <= address < high:
            return rest[4] if len(rest) == 5 else None
    return None


def test_the_prepared_tower_runs_the_numbers_of_the_one_quantised_at_load(tiny, own_cache):
    fresh = load(tiny).embed_text(TEXTS)
    made, mapped = load(tiny, prepared=True), load(tiny, prepared=True)
    assert torch.equal(made.embed_text(TEXTS), fresh)
    assert torch.equal(mapped.embed_text(TEXTS), fresh)
    assert mapped.kernels == made.kernels == load(tiny).kernels
    assert [p.name for p in (own_cache / "prepared").iterdir()] == [kept(tiny).name]
    # In the default dtype of this machine too (bfloat16 where the CPU has bf16 units).
    default = altclip_core.load(tiny, "cpu", towers=("text",), quantize="int8")
    lean = altclip_core.load(tiny, "cpu", towers=("text",), quantize="int8", prepared=True)
    assert lean.dtype == default.dtype and torch.equal(
        lean.embed_text(TEXTS), default.embed_text(TEXTS)
    )


def test_a_later_load_reads_no_weight_of_the_checkpoint(full_vocab, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(full_vocab, folder)
    first = load(folder, prepared=True).embed_text(TEXTS)
    # Damage every text tensor in the checkpoint, leaving the bytes hub.fingerprint reads.
    fingerprint = hub.fingerprint(folder)
    with safe_open(folder / "model.safetensors", framework="pt") as f:
        names = [k for k in f.keys() if k.startswith("text_model.")]
    raw = (folder / "model.safetensors").read_bytes()
    header = 8 + int.from_bytes(raw[:8], "little")
    spans = json.loads(raw[8:header])
    data = bytearray(raw)
    for name in names:
        begin, end = (header + x for x in spans[name]["data_offsets"])
        assert 1 << 20 <= begin and end <= len(raw) - (1 << 20)
        data[begin:end] = bytes(end - begin)
    (folder / "model.safetensors").write_bytes(data)
    assert hub.fingerprint(folder) == fingerprint
    assert not torch.allclose(load(folder).embed_text(TEXTS), first, atol=1e-3)  # it matters
    assert torch.equal(load(folder, prepared=True).embed_text(TEXTS), first)


def test_another_model_or_a_damaged_file_is_prepared_again(tiny, tmp_path, own_cache):
    folder = tmp_path / "model"
    shutil.copytree(tiny, folder)
    load(folder, prepared=True)
    old = kept(folder)
    old_copy = tmp_path / "old.safetensors"
    shutil.copy(old, old_copy)
    # The model at the same folder changes: a file of its own, the old one gone.
    with safe_open(folder / "model.safetensors", framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["text_projection.weight"] = tensors["text_projection.weight"].flip(0).contiguous()
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    new = kept(folder)
    want = load(folder).embed_text(TEXTS)
    assert torch.equal(load(folder, prepared=True).embed_text(TEXTS), want)
    assert new != old and new.is_file() and not old.exists()
    # A file made from another model is not trusted under this one's name.
    shutil.copy(old_copy, new)
    assert torch.equal(load(folder, prepared=True).embed_text(TEXTS), want)
    assert new.read_bytes() != old_copy.read_bytes()
    # Nor a damaged one: cut short, or its header broken.
    size = new.stat().st_size
    with new.open("r+b") as f:
        f.truncate(size - 100)
    assert torch.equal(load(folder, prepared=True).embed_text(TEXTS), want)
    assert new.stat().st_size == size
    new.write_bytes(b"\xff" * 64 + new.read_bytes()[64:])
    assert torch.equal(load(folder, prepared=True).embed_text(TEXTS), want)
    assert new.stat().st_size == size and len(list(new.parent.iterdir())) == 1


def test_the_word_embeddings_stay_in_the_files_pages(full_vocab):
    load(full_vocab, prepared=True)  # made
    lean = load(full_vocab, prepared=True)
    words = lean.text_model.roberta.embeddings.word_embeddings.weight
    assert words.shape == (VOCAB, 32) and mapped_from(words) == str(kept(full_vocab))
    # The process's own memory does not grow by the matrix (32 MB) to load the tower and ask.
    # Loading it quantised in memory in another dtype copies the matrix: the measure sees that.
    code = """
import sys, torch, altclip_core
def anon():
    with open("/proc/self/status") as f:
        return int(next(x for x in f if x.startswith("RssAnon")).split()[1]) // 1024
def grows(**kw):
    before = anon()
    tower = altclip_core.load(sys.argv[1], "cpu", towers=("text",), quantize="int8", **kw)
    tower.embed_text(["a dog running on the grass", "海边的日落"])
    return anon() - before, tower
grows(dtype=torch.float32, prepared=True)  # what a first load sets up once, whichever
lean, kept = grows(dtype=torch.float32, prepared=True)
copied, _ = grows(dtype=torch.bfloat16)
print(lean, copied)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(full_vocab)], capture_output=True, text=True, check=True
    )
    lean_mb, copied_mb = map(int, out.stdout.split())
    assert lean_mb < 4 and copied_mb >= 12, out.stdout  # the bf16 copy: 16 MB


def test_int8_is_the_default_on_cpu_where_it_checks_itself(photo_library, own_cache):
    lib = Library.open(photo_library, device="cpu")
    model = lib.catalog.model()
    towers = Towers(model, "cpu")  # int8 unless asked otherwise
    assert towers.text.kernels["text"] in kernels.INT8 and towers.int8_cosine >= 0.99
    words = towers.text.text_model.roberta.embeddings.word_embeddings.weight
    assert mapped_from(words).startswith(str(own_cache / "prepared"))
    # A later open maps the prepared tower, the same numbers, and knows the verdict.
    again = Towers(model, "cpu")
    assert np.array_equal(again.embed_texts(TEXTS), towers.embed_texts(TEXTS))
    assert again.int8_cosine == towers.int8_cosine
    assert again.loaded() == {"text"}  # text queries never load the image tower

    # A tower that misses the bar is not used, nor kept: the exact one answers.
    strict = Towers(model, "cpu")
    strict.int8_min_cosine = 1.01
    assert strict.text.kernels["text"] in kernels.EXACT
    exact = Towers(model, "cpu", int8=False)
    assert np.array_equal(strict.embed_texts(TEXTS), exact.embed_texts(TEXTS))
    shutil.rmtree(own_cache)
    fails = Towers(model, "cpu")
    fails.int8_min_cosine = 1.01
    assert fails.text.kernels["text"] in kernels.EXACT and fails.int8_cosine < 1.01
    assert not (own_cache / "prepared").exists()


def test_exact_is_a_setting():
    assert Settings.from_env({"ALTCLIP_EXACT": "1"}).exact
    assert not Settings.from_env({}).exact and not Settings.from_env({"ALTCLIP_EXACT": "0"}).exact


def test_prepared_is_the_int8_text_tower_alone(tiny):
    with pytest.raises(ValueError, match="prepared"):
        altclip_core.load(tiny, "cpu", towers=("text",), prepared=True)
    with pytest.raises(ValueError, match="prepared"):
        altclip_core.load(tiny, "cpu", quantize="int8", prepared=True)


def test_a_cache_that_cannot_be_written_costs_time_not_answers(tiny, tmp_path, monkeypatch):
    (tmp_path / "a file").write_bytes(b"")
    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path / "a file"))
    lean = load(tiny, prepared=True)  # quantised in memory, as without `prepared`
    assert torch.equal(lean.embed_text(TEXTS), load(tiny).embed_text(TEXTS))
    assert lean.kernels["text"] in kernels.INT8


@pytest.mark.parametrize("family", ["clip", "chinese_clip"])
def test_every_family_text_tower_is_prepared_alike(family, tmp_path):
    from tests import checkpoints

    build = checkpoints.build_clip if family == "clip" else checkpoints.build_chinese_clip
    build(tmp_path / family, family)
    fresh = load(tmp_path / family).embed_text(TEXTS)
    load(tmp_path / family, prepared=True)
    assert torch.equal(load(tmp_path / family, prepared=True).embed_text(TEXTS), fresh)
