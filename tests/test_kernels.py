"""The CPU linear kernels: each equals `nn.Linear` (exactly, or within int8's error), the fastest
is chosen once per machine and cached, and a packed model says so instead of moving or saving."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import altclip_core
from altclip_core import kernels


@pytest.fixture
def linear():
    torch.manual_seed(0)
    return torch.nn.Linear(64, 96)


@pytest.mark.parametrize("kernel", kernels.EXACT + kernels.INT8)
def test_each_kernel_computes_the_linear(linear, kernel):
    x = torch.randn(3, 5, 64)  # [B, L, D], as the towers call them
    with torch.inference_mode():
        want, got = linear(x), kernels.make(linear, kernel)(x)
    assert got.shape == want.shape == (3, 5, 96)
    if kernel in kernels.EXACT:
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    else:  # int8: close in direction, which is all a cosine ranking reads
        assert F.cosine_similarity(got, want, dim=-1).min() > 0.999


def test_the_verdict_is_cached_per_machine_and_shape(linear, tmp_path, monkeypatch):
    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path))
    cache = tmp_path / "kernels.json"
    tower = torch.nn.Sequential(linear)
    chosen = kernels.fit(tower, rows=8)
    assert chosen in kernels.EXACT and len(json.loads(cache.read_text())) == 1
    # A verdict in the cache is used as it stands: no timing, the cached kernel swapped in.
    (key,) = json.loads(cache.read_text())
    other = "packed" if chosen == "plain" else "plain"
    cache.write_text(json.dumps({key: other}))
    tower = torch.nn.Sequential(torch.nn.Linear(64, 96))
    assert kernels.fit(tower, rows=8) == other
    assert isinstance(tower[0], kernels.PackedLinear) == (other == "packed")
    # Another row count is another workload; a damaged cache is measured again.
    kernels.fit(torch.nn.Sequential(torch.nn.Linear(64, 96)), rows=512)
    assert len(json.loads(cache.read_text())) == 2
    cache.write_text("{not json")
    assert kernels.fit(torch.nn.Sequential(torch.nn.Linear(64, 96)), 8) in kernels.EXACT


def test_int8_model_stays_close_to_the_exact_one(tiny):
    exact = altclip_core.load(tiny, device="cpu")
    int8 = altclip_core.load(tiny, device="cpu", quantize="int8")
    assert set(int8.kernels.values()) <= set(kernels.INT8) and len(int8.kernels) == 2
    torch.manual_seed(0)
    size = exact.config.vision_config.image_size
    pixels = torch.randn(4, 3, size, size)
    texts = ["一只猫", "a photo of a dog at the beach"]
    assert (exact.encode_image(pixels) * int8.encode_image(pixels)).sum(-1).min() > 0.99
    assert (exact.embed_text(texts) * int8.embed_text(texts)).sum(-1).min() > 0.99


def test_packed_models_refuse_to_move_or_save_with_a_reason(tiny):
    model = altclip_core.load(tiny, device="cpu", quantize="int8")
    with pytest.raises(RuntimeError, match="load it again"):
        model.to(torch.float16)
    with pytest.raises(RuntimeError, match="no checkpoint layout"):
        model.state_dict()


def test_bad_quantize_arguments(tiny):
    with pytest.raises(ValueError, match='"int8"'):
        altclip_core.load(tiny, device="cpu", quantize="int4")
    with pytest.raises(ValueError, match="CPU only"):
        altclip_core.load(tiny, device="meta", quantize="int8")


def test_int8_quantises_the_input_q_k_and_v_share_once(monkeypatch):
    from altclip_core.config import VisionConfig
    from altclip_core.layers import CLIPLayer

    cfg = VisionConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4)
    layer = CLIPLayer(cfg).eval()
    x = torch.randn(2, 5, 32)
    with torch.inference_mode():
        want = layer(x)
        kernels._swap(layer, "onednn")
        calls = []
        quantise = kernels._quantise
        monkeypatch.setattr(kernels, "_quantise", lambda rows: calls.append(1) or quantise(rows))
        got = layer(x)
    assert len(calls) == 4  # q, k and v's shared input; out_proj's; fc1's; fc2's
    assert F.cosine_similarity(got, want, dim=-1).min() > 0.99


def test_the_cache_writes_whole_files_or_none(tmp_path):
    """A file is written whole, or not at all: a write that fails leaves nothing behind, and a
    folder that cannot be made is no error (the cache is worked out again next time)."""
    from altclip_core import cache

    cache.write(tmp_path / "a" / "x.bin", lambda f: f.write(b"whole"))
    assert (tmp_path / "a" / "x.bin").read_bytes() == b"whole"

    def fails(f):
        f.write(b"half")
        raise OSError("disk full")

    cache.write(tmp_path / "a" / "x.bin", fails)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.bin"]
    assert (tmp_path / "a" / "x.bin").read_bytes() == b"whole"
    (tmp_path / "file").write_bytes(b"")
    cache.write(tmp_path / "file" / "x.bin", lambda f: f.write(b"x"))  # a file, not a folder


@pytest.mark.parametrize(
    "cpu, flags",
    [
        (
            ("AMD EPYC", "fpu avx2 avx512_vnni avx512_bf16"),
            {"fpu", "avx2", "avx512_vnni", "avx512_bf16"},
        ),
        (("ARMv8 Processor rev 1",), set()),  # ARM's /proc/cpuinfo lists "Features"
        ((), set()),  # neither model name nor flags
    ],
)
def test_the_cpus_flags_wherever_cpuinfo_lacks_them(monkeypatch, cpu, flags):
    from altclip_core import cache, model, prepared

    monkeypatch.setattr(cache, "cpu", lambda: cpu)
    assert cache.cpu_flags() == flags
    assert model._cpu_has_bf16() == ("avx512_bf16" in flags)  # no IndexError on a bare cpuinfo
    assert isinstance(prepared.signed_weights(), bool)
