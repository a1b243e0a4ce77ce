"""The lean text tower (issue 28): on CPU, the text tower written as an ONNX graph in int8 and run
by ONNX Runtime, where it checks itself against the exact one; prepared once in the cache folder
and mapped from there (the checkpoint's weights not read again, the word-embedding matrix in the
file's pages, torch not imported); made again, never trusted, for another model or a damaged
file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

import altclip_core
from altclip_core import cache, hub, prepared, text_onnx
from search import Library
from search.hits import SearchError
from search.schema import Model
from search.settings import Settings
from search.towers import Towers
from tests import checkpoints

TEXTS = ["海边的日落", "a dog running on the grass", "家人在公园里的合影", "snow", "an " * 40]
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


def exact(folder: Path) -> altclip_core.CLIP:
    return altclip_core.load(folder, "cpu", torch.float32, towers=("text",))


def towers(folder: Path) -> Towers:
    """A library's towers for the checkpoint in `folder`, as a search process has them."""
    return Towers(Model(str(folder), hub.fingerprint(folder), 0), "cpu")


def mapped_from(a: np.ndarray) -> str | None:
    """The file whose mapping holds `a`'s first byte, None where it is anonymous memory."""
    address = a.__array_interface__["data"][0]
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *rest = line.split(maxsplit=5)
        low, high = (int(x, 16) for x in span.split("-"))
        if low <= address < high:
            return rest[4] if len(rest) == 5 else None
    return None


@pytest.mark.parametrize("family", ["altclip", "clip", "clip legacy", "chinese_clip"])
def test_the_graph_is_the_tower_of_every_family(family, spm_path, tmp_path):
    folder = tmp_path / family
    if family == "altclip":
        checkpoints.build(folder, spm_path, "altclip", pytorch_bin=False)
    elif family == "chinese_clip":
        checkpoints.build_chinese_clip(folder)
    else:  # "clip legacy" pools by the largest id (eos_token_id 2), "clip" by its end token
        checkpoints.build_clip(folder, legacy=family == "clip legacy")
    model = exact(folder)
    want = model.embed_text(TEXTS).numpy()
    graph, tensors, logit_scale = text_onnx.build(folder, int8=False)
    meta = {"logit_scale": repr(logit_scale)}
    same = prepared.PreparedText(graph, tensors, folder, meta)
    assert np.abs(same.embed_text(TEXTS) - want).max() < 1e-5  # float32 elsewhere: the same
    labels, template = ["dog", "海边"], ["a photo of {}", "{}"]
    probabilities = model.classify(torch.from_numpy(want[:2]), labels, template).numpy()
    assert np.allclose(same.classify(want[:2], labels, template), probabilities, atol=1e-5)
    int8 = [
        prepared.PreparedText(*text_onnx.build(folder, signed=signed)[:2], folder, meta)
        for signed in (True, False)
    ]
    signed, unsigned = (t.embed_text(TEXTS) for t in int8)
    assert np.abs(signed - unsigned).max() < 1e-6  # uint8 around 128: the same numbers
    assert (signed * want).sum(-1).min() > 0.99 and not np.allclose(signed, want, atol=1e-4)


def test_a_later_open_reads_no_weight_of_the_checkpoint_nor_imports_torch(full_vocab, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(full_vocab, folder)
    first = towers(folder).embed_texts(TEXTS)  # checked, prepared, kept
    code = """
import sys, numpy as np
opened = []
sys.addaudithook(lambda event, args: event == "open" and opened.append(str(args[0])))
from search.schema import Model
from search.towers import Towers
towers = Towers(Model(sys.argv[1], sys.argv[2], 0), "cpu")
np.save(sys.argv[3], towers.embed_texts(sys.argv[4:]))
weights = [p for p in opened if p.endswith((".safetensors", ".bin")) and p.startswith(sys.argv[1])]
print(towers.int8_cosine, "torch" in sys.modules, weights)
"""
    out = tmp_path / "vectors.npy"
    run = [sys.executable, "-c", code, str(folder), hub.fingerprint(folder), str(out), *TEXTS]
    said = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
    assert float(said[0]) >= cache.INT8_MIN_COSINE and said[1:] == ["False", "[]"], said
    assert np.array_equal(np.load(out), first)


def damage_text(folder: Path) -> None:
    """Zero every text tensor of the checkpoint in `folder`, all of them past its first and
    before its last MB (full_vocab's padding puts them there), its size kept."""
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


def test_weights_changed_between_head_and_tail_are_another_model(full_vocab, tmp_path):
    """A fine-tune merged into the middle layers keeps each file's size, first and last MB (all
    that fingerprints read until 2026-12): every byte is hashed, once per file as it stands, and
    a library recorded with the old fingerprint is still recognised by it."""
    folder = tmp_path / "model"
    shutil.copytree(full_vocab, folder)
    fingerprint, sampled = hub.fingerprint(folder), hub._sampled(folder)
    tower = towers(folder)
    tower.tower("text")
    damage_text(folder)
    assert hub._sampled(folder) == sampled and hub.fingerprint(folder) != fingerprint
    assert not hub.same_weights(folder, fingerprint)
    with pytest.raises(SearchError, match="not the one this library was built with"):
        Towers(Model(str(folder), fingerprint, 0), "cpu").tower("text")
    assert hub.same_weights(folder, sampled)  # a library recorded before: its check as it was
    # Remembered per file as it stands: a byte changed in place, its times set back, is read.
    path = folder / "model.safetensors"
    st, now = path.stat(), hub.fingerprint(folder)
    with path.open("r+b") as f:
        f.seek(st.st_size // 2)
        f.write(b"\x01")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert hub.fingerprint(folder) != now


def test_another_model_or_a_damaged_file_is_prepared_again(tiny, tmp_path, own_cache):
    folder = tmp_path / "model"
    shutil.copytree(tiny, folder)
    towers(folder).tower("text")
    old = prepared.path(hub.fingerprint(folder))
    old_copy = tmp_path / "old.safetensors"
    shutil.copy(old, old_copy)
    # The model at the same folder changes: a file of its own, the old one gone.
    with safe_open(folder / "model.safetensors", framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["text_projection.weight"] = tensors["text_projection.weight"].flip(0).contiguous()
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    new = prepared.path(hub.fingerprint(folder))
    want = towers(folder).embed_texts(TEXTS)
    assert new != old and new.is_file() and not old.exists()
    fingerprint = hub.fingerprint(folder)
    assert prepared.load(folder, fingerprint) is not None
    # A file made from another model is not trusted under this one's name.
    shutil.copy(old_copy, new)
    assert prepared.load(folder, fingerprint) is None
    assert np.array_equal(towers(folder).embed_texts(TEXTS), want)
    assert new.read_bytes() != old_copy.read_bytes()
    # Nor a damaged one: cut short, its header broken, or a tensor's shape changed.
    size = new.stat().st_size
    with new.open("r+b") as f:
        f.truncate(size - 100)
    assert prepared.load(folder, fingerprint) is None
    assert np.array_equal(towers(folder).embed_texts(TEXTS), want)
    assert new.stat().st_size == size
    new.write_bytes(b"\xff" * 64 + new.read_bytes()[64:])
    assert prepared.load(folder, fingerprint) is None
    assert np.array_equal(towers(folder).embed_texts(TEXTS), want)
    raw = new.read_bytes()
    start = 8 + int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:start])
    name = "text_projection.weight"
    header[name]["shape"] = header[name]["shape"][::-1]  # the same bytes, another shape
    head = json.dumps(header, separators=(",", ":")).encode().ljust(start - 8)
    assert len(head) == start - 8  # the same size: only the shape is wrong
    new.write_bytes(raw[:8] + head + raw[start:])
    assert prepared.load(folder, fingerprint) is None
    words = json.loads(raw[8:start])[prepared.WORDS]
    words["shape"] = [words["shape"][0] * 2, words["shape"][1] // 2]  # not the graph's width
    header[name]["shape"] = header[name]["shape"][::-1]
    head = json.dumps(header | {prepared.WORDS: words}, separators=(",", ":")).encode()
    assert len(head) <= start - 8
    new.write_bytes(raw[:8] + head.ljust(start - 8) + raw[start:])
    assert prepared.load(folder, fingerprint) is None
    assert np.array_equal(towers(folder).embed_texts(TEXTS), want)
    assert new.stat().st_size == size and len(list(new.parent.iterdir())) == 1
    # Whole and consistent, but with fewer word rows than the vocabulary, or the tensors of the
    # model made before under this one's metadata, or a FIFO in its place (which would block
    # whoever opens it): made again.
    with safe_open(new, framework="numpy") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    with safe_open(old_copy, framework="numpy") as f:
        others = {k: f.get_tensor(k) for k in f.keys()}
    fewer = tensors | {prepared.WORDS: tensors[prepared.WORDS][:5]}
    for changed, sampled in ((fewer, fewer), (others, tensors)):
        save_numpy(changed, new, meta | {"sample": prepared.sample(sampled)})
        assert prepared.load(folder, fingerprint) is None
    new.unlink()
    os.mkfifo(new)
    assert prepared.load(folder, fingerprint) is None
    assert np.array_equal(towers(folder).embed_texts(TEXTS), want) and new.is_file()
    # Making one removes the others made from the same folder (another format, ONNX Runtime,
    # kind of weights): they would not be used again.
    shutil.copy(new, new.with_name("text-older.safetensors"))
    killed, writing = (new.with_name(f"{n}.part") for n in ("killed", "writing"))
    killed.write_bytes(b"x"), writing.write_bytes(b"x")  # a write killed midway, one going on
    os.utime(killed, (0, time.time() - prepared.STALE_S - 1))
    prepared.keep(prepared.make(folder, fingerprint))
    assert sorted(new.parent.iterdir()) == sorted([new, writing])
    assert not np.allclose(want, towers(tiny).embed_texts(TEXTS), atol=1e-3)  # it mattered


def test_the_word_embeddings_stay_in_the_files_pages(full_vocab):
    made = towers(full_vocab).text
    assert made.kernels == {"text": prepared.KERNEL}
    lean = prepared.load(full_vocab, hub.fingerprint(full_vocab))
    words = lean.words
    kept = prepared.path(hub.fingerprint(full_vocab))
    assert words.shape == (VOCAB, 32) and mapped_from(words) == str(kept)
    # The process's own memory does not grow by the matrix (32 MB) to load the tower and ask;
    # ONNX Runtime's copy of it would: the measure sees that.
    code = """
import sys, numpy as np
from altclip_core import hub, prepared
def anon():
    with open("/proc/self/status") as f:
        return int(next(x for x in f if x.startswith("RssAnon")).split()[1]) // 1024
def grows(copy):
    before = anon()
    tower = prepared.load(hub.resolve(sys.argv[1]), hub.fingerprint(hub.resolve(sys.argv[1])))
    if copy:
        copies = {k: np.array(v) for k, v in tower.tensors.items()}
        tower = prepared.PreparedText(tower.graph, copies, tower.folder, tower.meta)
    tower.embed_text(["a dog running on the grass", "海边的日落"])
    return anon() - before, tower
grows(False)  # what a first load sets up once
lean, kept = grows(False)
copied, _ = grows(True)
print(lean, copied)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(full_vocab)], capture_output=True, text=True, check=True
    )
    lean_mb, copied_mb = map(int, out.stdout.split())
    assert lean_mb < 8 and copied_mb >= 30, out.stdout  # 0-4 MB of the allocator's own, seen


def test_int8_is_the_default_on_cpu_where_it_checks_itself(photo_library, own_cache):
    lib = Library.open(photo_library, device="cpu")
    model = lib.catalog.model()
    towers = Towers(model, "cpu")  # int8 unless asked otherwise
    assert towers.text.kernels["text"] == prepared.KERNEL and towers.int8_cosine >= 0.99
    # A later open maps the prepared tower, the same numbers, and knows the verdict.
    again = Towers(model, "cpu")
    assert np.array_equal(again.embed_texts(TEXTS), towers.embed_texts(TEXTS))
    assert again.int8_cosine == towers.int8_cosine
    assert again.loaded() == {"text"}  # text queries never load the image tower
    # A search process imports no torch for a text query, grouped or not.
    code = """
import sys
from search import Library
lib = Library.open(sys.argv[1])
hits = lib.search("a dog on the grass", k=5, group=True) + lib.search("海边", k=5)
print(len(hits), lib.towers.text.kernels["text"], "torch" in sys.modules)
"""
    run = [sys.executable, "-c", code, str(photo_library)]
    said = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
    assert said[1:] == [prepared.KERNEL, "False"] and int(said[0]) > 0, said
    # Another device than the CPU gets the exact tower, whatever verdict is kept here.
    assert isinstance(Towers(model, "meta").text, altclip_core.CLIP)

    # A tower that misses the bar is not used, nor kept: the exact one answers.
    strict = Towers(model, "cpu")
    strict.int8_min_cosine = 1.01
    assert strict.text.kernels["text"] != prepared.KERNEL
    exact = Towers(model, "cpu", int8=False)
    assert np.array_equal(strict.embed_texts(TEXTS), exact.embed_texts(TEXTS))
    shutil.rmtree(own_cache)
    fails = Towers(model, "cpu")
    fails.int8_min_cosine = 1.01
    assert fails.text.kernels["text"] != prepared.KERNEL and fails.int8_cosine < 1.01
    assert not (own_cache / "prepared").exists()


def test_exact_is_a_setting():
    assert Settings.from_env({"ALTCLIP_EXACT": "1"}).exact
    assert not Settings.from_env({}).exact and not Settings.from_env({"ALTCLIP_EXACT": "0"}).exact


def test_a_cache_that_cannot_be_written_costs_time_not_answers(tiny, tmp_path, monkeypatch):
    kept = towers(tiny)
    want = kept.embed_texts(TEXTS)
    assert kept.unwritable_cache is None
    (tmp_path / "a file").write_bytes(b"")
    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path / "a file"))
    lean = towers(tiny)  # prepared in memory
    assert np.array_equal(lean.embed_texts(TEXTS), want)
    assert lean.text.kernels["text"] == prepared.KERNEL
    assert lean.unwritable_cache == tmp_path / "a file" / "prepared"  # said: see below
    lean.follow(Model("another", "another fingerprint", 0))
    assert lean.unwritable_cache is None  # the next model's tower may be kept
    # A full disk fails the write inside safetensors, which raises its own error.
    import safetensors.numpy

    def full(*args, **kwargs):
        raise safetensors.SafetensorError("No space left on device (os error 28)")

    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path / "full"))
    monkeypatch.setattr(safetensors.numpy, "save_file", full)
    full = towers(tiny)
    assert np.array_equal(full.embed_texts(TEXTS), want)
    assert not list((tmp_path / "full" / "prepared").iterdir())  # no part left
    assert full.unwritable_cache == tmp_path / "full" / "prepared"


def test_a_tower_that_cannot_be_kept_is_said_by_the_cli_and_the_page(
    photo_library, tmp_path, monkeypatch, capsys
):
    """Every start would prepare the text tower again (seconds, GBs): the person is told where
    and what to do, in one line, in their language on the page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from search.cli import main as search_main

    (tmp_path / "a file").write_bytes(b"")
    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path / "a file"))
    assert search_main(["a dog", "--library", str(photo_library), "-k", "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "altclip-search: the search-ready text tower could not be kept in "
        f"{tmp_path / 'a file' / 'prepared'}"
        ", so every search prepares it again (seconds, GBs of memory): make that folder "
        "writable, or set ALTCLIP_CACHE to one that is"
    ]
    st.cache_resource.clear()  # the page's library, opened afresh
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(photo_library))
    at = AppTest.from_file(str(Path(__file__).parents[1] / "ui" / "app.py"), default_timeout=120)
    at.context = {"locale": "zh-CN"}
    at.run()
    at.text_input(key="query").input("一只狗").run()
    at.run()  # the sidebar of the run after the tower was prepared
    said = [t.value for t in at.sidebar.text]
    assert [t for t in said if "无法将准备好的文本模型保存到" in t and "prepared" in t], said
    st.cache_resource.clear()
