"""altclip_core as a user meets it: loading variants, single towers, errors, dtypes, images."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

import altclip_core
from altclip_core import CheckpointError, ModelNotFound
from altclip_core.convert import main as convert_main
from tests.checkpoints import only
from tests.test_parity import IMAGES, TEXTS

SMALL = ["config.json", "preprocessor_config.json"]


def embeddings(folder, **kw):
    model = altclip_core.load(folder, device="cpu", dtype=torch.float32, **kw)
    return model.embed_text(TEXTS), model.embed_images(IMAGES)


@pytest.fixture(scope="module")
def expected(tiny):
    return embeddings(tiny)


def assert_same(a, b, tol=1e-6):
    for x, y in zip(a, b, strict=True):
        assert (x - y).abs().max().item() <= tol


def test_bin_only_checkpoint_with_extras(tiny, tmp_path, expected):
    folder = only(tiny, tmp_path, SMALL + ["tokenizer.json", "pytorch_model.bin"])
    assert_same(embeddings(folder), expected)


def test_sentencepiece_only_checkpoint_like_m9(tiny, tmp_path, expected):
    folder = only(tiny, tmp_path, SMALL + ["sentencepiece.bpe.model", "model.safetensors"])
    assert_same(embeddings(folder), expected)


def test_sharded_safetensors(tiny, tmp_path, expected):
    folder = only(tiny, tmp_path, SMALL + ["tokenizer.json"])
    state = load_file(tiny / "model.safetensors")
    names = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2],
    }
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, folder / file)
    weight_map = {k: file for file, keys in shards.items() for k in keys}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert_same(embeddings(folder), expected)


def test_checkpoint_saved_by_transformers_5(checkpoint, tmp_path):
    """transformers 5 writes the vision blocks as `encoder.layer.N`; the hub says `layers.N`."""
    folder, reference = checkpoint
    reference.save_pretrained(tmp_path)
    for name in SMALL + ["tokenizer.json"]:
        shutil.copy(folder / name, tmp_path / name)
    assert_same(embeddings(tmp_path), embeddings(folder))


def test_one_tower_never_reads_the_other(tiny, tmp_path, expected):
    """The other tower's tensors are not read: here they are garbage, and loading still works."""
    folder = only(tiny, tmp_path, SMALL + ["tokenizer.json"])
    state = load_file(tiny / "model.safetensors")
    state = {k: (torch.zeros(1) if k.startswith("vision_model.") else v) for k, v in state.items()}
    save_file(state, folder / "model.safetensors")
    model = altclip_core.load(folder, device="cpu", dtype=torch.float32, towers=("text",))
    assert not hasattr(model, "vision_model") and model.preprocess is None
    assert (model.embed_text(TEXTS) - expected[0]).abs().max().item() <= 1e-6
    with pytest.raises(CheckpointError, match="vision_model.embeddings.class_embedding"):
        altclip_core.load(folder, device="cpu", towers=("vision",))


def test_missing_and_misshaped_tensors_are_named(tiny, tmp_path):
    folder = only(tiny, tmp_path, SMALL + ["tokenizer.json"])
    state = load_file(tiny / "model.safetensors")
    del state["text_model.pre_LN.weight"]
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="text_model.pre_LN.weight"):
        altclip_core.load(folder, device="cpu")
    state["text_model.pre_LN.weight"] = torch.zeros(3)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"text_model.pre_LN.weight \(3,\)"):
        altclip_core.load(folder, device="cpu")


def test_folder_without_weights_or_tokenizer(tiny, tmp_path):
    folder = only(tiny, tmp_path, SMALL)
    with pytest.raises(CheckpointError, match="model.safetensors or pytorch_model.bin"):
        altclip_core.load(folder, device="cpu")
    shutil.copy(tiny / "model.safetensors", folder)
    with pytest.raises(CheckpointError, match="tokenizer.json or sentencepiece.bpe.model"):
        altclip_core.load(folder, device="cpu")


def test_a_model_not_downloaded_names_the_ways_to_get_it(tmp_path, monkeypatch):
    """Offline (HF_HUB_OFFLINE, as the tests run) or with the hub out of reach (a closed port on
    this machine): one line that says why in words, with no exception's name, and the ways a
    person gets the weights: the hub, a mirror of it (HF_ENDPOINT) where it is blocked, or the
    checkpoint folder copied (or made by altclip-convert) and passed with --model DIR."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFound) as offline:
        altclip_core.load("BAAI/AltCLIP")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard: nothing answers
    with pytest.raises(ModelNotFound) as unreachable:
        altclip_core.load("BAAI/AltCLIP")
    for e, why in [(offline, "downloads are off (HF_HUB_OFFLINE)"), (unreachable, "127.0.0.1:9")]:
        said = str(e.value)
        assert said.startswith("BAAI/AltCLIP is not in the Hugging Face cache and") and why in said
        assert "--model DIR" in said and "altclip-convert BAAI/AltCLIP DIR" in said
        assert "Error" not in said and "\n" not in said
    assert "HF_ENDPOINT=https://hf-mirror.com" in str(offline.value)
    with pytest.raises(ModelNotFound, match="not a model folder"):
        altclip_core.load(tmp_path / "no-such-folder")


def test_convert_bin_to_fp16_safetensors(tiny, tmp_path, expected, capsys):
    source = only(tiny, tmp_path / "src", SMALL + ["tokenizer.json", "pytorch_model.bin"])
    assert convert_main([str(source), str(tmp_path / "out"), "--dtype", "float16"]) == 0
    assert "--model" in capsys.readouterr().out
    assert {t.dtype for t in load_file(tmp_path / "out" / "model.safetensors").values()} == {
        torch.float16
    }
    text, images = embeddings(tmp_path / "out")
    assert F.cosine_similarity(text, expected[0]).min() > 0.999
    assert F.cosine_similarity(images, expected[1]).min() > 0.999


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_within_cosine_0999(checkpoint, dtype):
    folder, _ = checkpoint
    full = embeddings(folder)
    model = altclip_core.load(folder, device="cpu", dtype=dtype)
    assert model.embed_text(TEXTS).dtype == torch.float32
    assert F.cosine_similarity(model.embed_text(TEXTS), full[0]).min() > 0.999
    assert F.cosine_similarity(model.embed_images(IMAGES), full[1]).min() > 0.999


def test_embeddings_are_normalised_and_padding_invariant(tiny):
    model = altclip_core.load(tiny, device="cpu", dtype=torch.float32)
    alone = model.embed_text(["海边的日落"])
    padded = model.embed_text(["海边的日落", "a much longer text " * 30])
    assert (alone[0] - padded[0]).abs().max().item() <= 1e-6
    assert torch.allclose(padded.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert model.embed_text([]).shape == (0, model.dim)
    # Batched by length, returned in the order given.
    texts = ["a much longer text " * 5, "猫", "海边的日落", "a dog on the beach", "x"]
    alone = torch.cat([model.embed_text(t) for t in texts])
    assert (model.embed_text(texts, batch_size=2) - alone).abs().max().item() <= 1e-6


@torch.inference_mode()
@pytest.mark.parametrize("values", [False, True])
def test_every_token_path_keeps_the_class_token(tiny, values):
    """The class token of the vision tower's every-token path (`encode_patches` reads its
    patches) is `forward`'s, which computes the class token alone in the last layer: a patch map
    explains the same embedding the index holds."""
    model = altclip_core.load(tiny, device="cpu", dtype=torch.float32, towers=("vision",))
    pixels = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    tower = model.vision_model
    tokens = tower.tokens(pixels, values=values)
    assert tokens.shape == (3, model.config.vision_config.num_positions, 32)
    assert (tokens[:, 0] - tower(pixels)).abs().max().item() <= 1e-5


def test_token_count_is_transformers(checkpoint):
    """`num_patches` and `num_positions` as transformers' `CLIPVisionEmbeddings` counts them."""
    folder, reference = checkpoint
    vision = altclip_core.load(folder, device="cpu", towers=("vision",)).config.vision_config
    embeddings = reference.vision_model.embeddings
    assert (vision.num_patches, vision.num_positions) == (
        embeddings.num_patches,
        embeddings.num_positions,
    )


def test_checking_a_model_imports_no_torch():
    """hub reads the family records (which tokenizer files to fetch) without torch: a process
    that only checks a library's model stays light."""
    code = "import sys, altclip_core.hub; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_device_and_dtype():
    assert altclip_core.default_device().type in ("cuda", "mps", "cpu")
    assert altclip_core.default_dtype(torch.device("mps")) == torch.float16
    assert altclip_core.default_dtype(torch.device("cpu")) in (torch.bfloat16, torch.float32)


def test_bad_towers_argument(tiny):
    with pytest.raises(ValueError, match="towers"):
        altclip_core.load(tiny, towers=("audio",))


# --- images as photo folders hold them ---------------------------------------------------------


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert altclip_core.to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)
    la = Image.new("LA", (4, 4), (0, 0))
    assert altclip_core.to_rgb(la).getpixel((0, 0)) == (255, 255, 255)
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 0] * 256)
    p.info["transparency"] = 0
    assert altclip_core.to_rgb(p).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_greys_keep_their_range():
    ramp = np.linspace(0, 65535, 256, dtype=np.uint16).reshape(16, 16)
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    rgb = np.asarray(altclip_core.to_rgb(image))
    assert rgb.shape == (16, 16, 3) and rgb.min() == 0 and rgb.max() == 255
    assert np.abs(rgb[..., 0].astype(int) - np.arange(256).reshape(16, 16)).max() <= 1


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK", "1", "P", "I", "F", "RGBA", "LA", "I;16"])
def test_every_mode_embeds(tiny, mode):
    model = altclip_core.load(tiny, device="cpu", towers=("vision",))
    image = (
        IMAGES[1].convert("L").convert(mode)
        if mode in ("I", "F", "I;16")
        else IMAGES[1].convert(mode)
    )
    assert model.preprocess([image]).shape == (1, 3, 224, 224)
    assert torch.isfinite(model.embed_images([image])).all()


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (60, 30), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 30, 30))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    upright = altclip_core.open_image(path)
    assert upright.size == (30, 60)
    r, g, b = upright.getpixel((15, 5))  # the blue half is on top once upright
    assert b > 200 and r < 60


def test_jpeg_draft_decoding_keeps_enough_pixels(tmp_path):
    path = tmp_path / "big.jpg"
    buffer = io.BytesIO()
    IMAGES[1].resize((4000, 3000)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    assert min(altclip_core.open_image(path, draft_edge=448).size) >= 448
    assert altclip_core.open_image(path).size == (4000, 3000)


def test_a_checkpoint_without_preprocessor_config_is_preprocessed_at_its_own_size(tmp_path, tiny):
    """No preprocessor_config.json: CLIP's steps at the vision tower's own resolution."""
    from altclip_core.preprocess import ImagePreprocessor

    folder = tmp_path / "model"
    shutil.copytree(tiny, folder)
    (folder / "preprocessor_config.json").unlink(missing_ok=True)
    raw = json.loads((folder / "config.json").read_text())
    size = (raw.get("vision_config_dict") or raw["vision_config"])["image_size"]  # the dict wins
    pre = ImagePreprocessor.from_folder(folder)
    assert pre.shortest_edge == size and pre.crop == (size, size)
