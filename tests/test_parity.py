"""Our AltCLIP against transformers' `AltCLIPModel` on random checkpoints in the hub layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import altclip_core

TEXTS = [
    "海边的日落",
    "sunset at the beach",
    "浜辺の夕日、猫が窓辺に座っている",
    "🌅🐱 emoji only 🐶",
    "   runs   of\twhitespace \n\n and  tabs\t",
    "",
    "собака бежит по парку",
    "长" * 700,  # > 512 tokens: truncated, never a crash
    "a photo of a dog " * 200,
]


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A smooth random picture (resampling matters for smooth content, not only for noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(height // 16, 2), max(width // 16, 2), 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.BILINEAR)
    noise = rng.integers(-12, 13, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))


IMAGES = [
    photo(224, 224, 0),
    photo(640, 480, 1),
    photo(300, 1000, 2),  # portrait
    photo(1003, 37, 3),  # extreme panorama
    photo(13, 7, 4),  # smaller than the crop
    photo(500, 333, 5).convert("L"),
    photo(333, 500, 6).convert("CMYK"),
    photo(256, 300, 7).convert("P"),
    photo(230, 240, 8).convert("1"),
]


def reference_text(model, ids, mask):
    out = model.get_text_features(input_ids=ids, attention_mask=mask)
    return F.normalize(getattr(out, "pooler_output", out), dim=-1)


def reference_image(model, pixels):
    out = model.get_image_features(pixel_values=pixels)
    return F.normalize(getattr(out, "pooler_output", out), dim=-1)


@torch.inference_mode()
def test_text_matches_transformers(checkpoint, ref_tokenizer):
    folder, reference = checkpoint
    ours = altclip_core.load(folder, device="cpu", dtype=torch.float32, towers=("text",))
    ids, mask = ours.tokenizer(TEXTS)
    expected = ref_tokenizer(
        TEXTS, padding=True, truncation=True, max_length=512, return_tensors="pt"
    )
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(mask, expected["attention_mask"])
    assert ids.shape[1] == 512

    diff = (ours.embed_text(TEXTS) - reference_text(reference, ids, mask)).abs().max().item()
    assert diff <= 1e-5


@torch.inference_mode()
def test_images_match_transformers(checkpoint):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder, reference = checkpoint
    ours = altclip_core.load(folder, device="cpu", dtype=torch.float32, towers=("vision",))
    pixels = ours.preprocess(IMAGES)
    expected = CLIPImageProcessorPil.from_pretrained(folder)(IMAGES, return_tensors="pt")[
        "pixel_values"
    ]
    assert pixels.shape == expected.shape == (len(IMAGES), 3, 224, 224)
    assert (pixels - expected).abs().max().item() <= 1e-6

    diff = (ours.embed_images(IMAGES) - reference_image(reference, expected)).abs().max().item()
    assert diff <= 1e-5


@torch.inference_mode()
def test_logit_scale_and_joint_similarity(checkpoint):
    folder, reference = checkpoint
    ours = altclip_core.load(folder, device="cpu", dtype=torch.float32)
    assert ours.logit_scale.item() == pytest.approx(reference.logit_scale.item())
    sims = ours.embed_text(TEXTS[:3]) @ ours.embed_images(IMAGES[:2]).T
    ids, mask = ours.tokenizer(TEXTS[:3])
    expected = reference(
        input_ids=ids, attention_mask=mask, pixel_values=ours.preprocess(IMAGES[:2])
    )
    logits = sims * ours.logit_scale.exp()
    assert (logits - expected.logits_per_text).abs().max().item() <= 1e-4
