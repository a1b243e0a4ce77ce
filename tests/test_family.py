"""OpenAI CLIP and Chinese-CLIP through the same core as AltCLIP, against transformers' `CLIPModel`
and `ChineseCLIPModel` on random checkpoints in each family's hub layout; zero-shot `classify`
for every family."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import altclip_core
from altclip_core import CheckpointError, hub
from altclip_core.convert import main as convert_main
from tests import checkpoints
from tests.test_parity import IMAGES, TEXTS

# What tokenizers get wrong: case, accents, full-width forms, contractions, runs of symbols,
# literal special tokens, Chinese next to Latin, emoji, and inputs longer than the model.
FAMILY_TEXTS = TEXTS + [
    "A Photo Of A DOG!! don't we'll",
    "Café naïve ÉCOLE ＡＢＣ１２３",
    "我爱Paris 2024年🌅🐱 sunset",
    "<|endoftext|> [CLS] a cat <|startoftext|>",
    "hello!!! ??? ...",
    "the quick brown fox jumps over the lazy dog " * 10,
]
LABELS = ["猫", "一只狗", "sunset at the beach", "山と雪"]
TEMPLATES = ["a photo of {}", "一张{}的照片"]

BUILDERS = {
    # openai/clip-vit-base-patch32: eos_token_id 2, integer preprocessor sizes, .bin beside
    "clip-legacy": lambda folder: checkpoints.build_clip(folder, legacy=True, pytorch_bin=True),
    # a current config at 336 pixels, padded with "!" as LAION's checkpoints are
    "clip336": lambda folder: checkpoints.build_clip(folder, "clip336", pad_token="!"),
    "chinese_clip": checkpoints.build_chinese_clip,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, spm_path):
    """name -> (folder, transformers model), each checkpoint built once, on first use."""
    cache = {}

    def get(name: str):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            if name == "altclip":
                cache[name] = folder, checkpoints.build(folder, spm_path, pytorch_bin=False)
            else:
                cache[name] = folder, BUILDERS[name](folder)
        return cache[name]

    return get


@pytest.fixture(scope="module", params=BUILDERS)
def family(request, built):
    """(folder, transformers model) for each new family's tiny checkpoint."""
    return built(request.param)


@pytest.fixture(scope="module", params=["clip-legacy", "clip336"])
def clip(request, built):
    return built(request.param)


@pytest.fixture(scope="module")
def chinese_clip(built):
    return built("chinese_clip")


@pytest.fixture(scope="module", params=["altclip", *BUILDERS])
def any_family(request, built):
    return built(request.param)


def model_type(folder) -> str:
    return json.loads((folder / "config.json").read_text())["model_type"]


def reference_tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def reference_processor(folder):
    from transformers import ChineseCLIPImageProcessorPil, CLIPImageProcessorPil

    chinese = model_type(folder) == "chinese_clip"
    return (ChineseCLIPImageProcessorPil if chinese else CLIPImageProcessorPil).from_pretrained(
        folder
    )


def load(folder, **kw):
    return altclip_core.load(folder, device="cpu", dtype=torch.float32, **kw)


def reference_ids(tokenizer, max_tokens, texts=FAMILY_TEXTS):
    return tokenizer(
        texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
    )


# --- tokenizers --------------------------------------------------------------------------------


def assert_same_ids(ours, expected):
    ids, mask = ours(FAMILY_TEXTS)
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(mask, expected["attention_mask"])


def test_token_ids_match_transformers(family):
    folder, _ = family
    ours = load(folder, towers=("text",)).tokenizer
    expected = reference_ids(reference_tokenizer(folder), ours.max_tokens)
    assert_same_ids(ours, expected)
    ids, mask = ours(FAMILY_TEXTS)
    assert ids.shape[1] == ours.max_tokens  # the long inputs are truncated...
    end = ids[torch.arange(len(ids)), mask.sum(1) - 1]
    assert len(set(end.tolist())) == 1  # ...and every row still ends with the end token


def test_clip_tokenizer_from_vocab_and_merges(clip, tmp_path):
    """Without tokenizer.json, vocab.json + merges.txt give the same ids as transformers'."""
    folder, _ = clip
    names = ["config.json", "vocab.json", "merges.txt", "tokenizer_config.json"]
    names.append("special_tokens_map.json")
    bare = checkpoints.only(folder, tmp_path, names + ["model.safetensors"])
    ours = load(bare, towers=("text",)).tokenizer
    assert_same_ids(ours, reference_ids(reference_tokenizer(bare), 77))
    assert_same_ids(ours, reference_ids(reference_tokenizer(folder), 77))


def test_clip_pads_with_the_checkpoints_pad_token(clip):
    folder, _ = clip
    tokenizer = load(folder, towers=("text",)).tokenizer
    ids, mask = tokenizer(["a", "a much longer text"])
    pad = json.loads((folder / "special_tokens_map.json").read_text())["pad_token"]
    assert ids[0, -1].item() == tokenizer.backend.token_to_id(pad) and mask[0, -1] == 0


@pytest.mark.parametrize("lower", [True, False])
def test_wordpiece_splits_chinese_and_cases_as_the_checkpoint_says(chinese_clip, tmp_path, lower):
    folder, _ = chinese_clip
    copy = checkpoints.only(folder, tmp_path, ["config.json", "vocab.txt", "model.safetensors"])
    (copy / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": lower}))
    ours = load(copy, towers=("text",)).tokenizer
    assert_same_ids(ours, reference_ids(reference_tokenizer(copy), 512))
    ids, mask = ours(["海边的日落", "Sunset", "sunset"])
    assert mask[0].sum() == 2 + 5  # [CLS], one token per character, [SEP]
    assert torch.equal(ids[1], ids[2]) == lower


def test_wordpiece_from_tokenizer_json(chinese_clip, tmp_path):
    """A Chinese-CLIP checkpoint saved by transformers ships tokenizer.json and no vocab.txt."""
    folder, _ = chinese_clip
    reference_tokenizer(folder).save_pretrained(tmp_path)
    (tmp_path / "vocab.txt").unlink(missing_ok=True)
    shutil.copy(folder / "config.json", tmp_path)
    shutil.copy(folder / "model.safetensors", tmp_path)
    ours = load(tmp_path, towers=("text",)).tokenizer
    assert_same_ids(ours, reference_ids(reference_tokenizer(folder), 512))


# --- towers ------------------------------------------------------------------------------------


@torch.inference_mode()
def test_text_embeddings_match_transformers(family):
    folder, reference = family
    ours = load(folder, towers=("text",))
    expected = reference_ids(reference_tokenizer(folder), ours.tokenizer.max_tokens)
    out = reference.get_text_features(
        input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]
    )
    diff = ours.embed_text(FAMILY_TEXTS) - F.normalize(out.pooler_output, dim=-1)
    assert diff.abs().max().item() <= 1e-5


@torch.inference_mode()
def test_clip_pools_the_end_token_by_transformers_rule(clip):
    """Old configs (eos_token_id 2) pool at argmax(input_ids), newer ones at the first
    <|endoftext|>: the two differ once an id above <|endoftext|> (an added token) appears."""
    folder, reference = clip
    ours = load(folder, towers=("text",))
    ids, mask = ours.tokenizer(["a photo of a cat", "sunset"])
    ids[:, 1] = ours.tokenizer.vocab_size + 3  # within the model's vocabulary, past the tokenizer
    expected = reference.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
    diff = ours.encode_text(ids, mask) - F.normalize(expected, dim=-1)
    assert diff.abs().max().item() <= 1e-5


@torch.inference_mode()
def test_images_match_transformers(family):
    folder, reference = family
    ours = load(folder, towers=("vision",))
    pixels = ours.preprocess(IMAGES)
    expected = reference_processor(folder)(IMAGES, return_tensors="pt")["pixel_values"]
    size = 336 if "336" in folder.name else 224
    assert pixels.shape == expected.shape == (len(IMAGES), 3, size, size)
    assert (pixels - expected).abs().max().item() <= 1e-6
    out = reference.get_image_features(pixel_values=expected).pooler_output
    diff = ours.embed_images(IMAGES) - F.normalize(out, dim=-1)
    assert diff.abs().max().item() <= 1e-5


def test_chinese_clip_squeezes_instead_of_cropping(chinese_clip):
    """Chinese-CLIP's processor resizes to 224x224 without a centre crop: a panorama keeps both
    ends (a crop would lose them)."""
    folder, _ = chinese_clip
    from PIL import Image

    panorama = Image.new("RGB", (600, 200), (255, 0, 0))
    panorama.paste((0, 0, 255), (0, 0, 100, 200))  # the left sixth is blue
    pixels = load(folder, towers=("vision",)).preprocess([panorama])
    assert pixels.shape == (1, 3, 224, 224)
    assert pixels[0, 2, 100, 5] > pixels[0, 0, 100, 5]  # blue survives on the left edge


def test_padding_invariant_and_normalised(family):
    folder, _ = family
    model = load(folder, towers=("text",))
    alone = model.embed_text(["海边的日落"])
    padded = model.embed_text(["海边的日落", "a much longer text " * 30])
    assert (alone[0] - padded[0]).abs().max().item() <= 1e-6
    assert torch.allclose(padded.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_bfloat16_within_cosine_0999(family):
    folder, _ = family
    full = load(folder)
    half = altclip_core.load(folder, device="cpu", dtype=torch.bfloat16)
    assert F.cosine_similarity(half.embed_text(TEXTS), full.embed_text(TEXTS)).min() > 0.999
    assert F.cosine_similarity(half.embed_images(IMAGES), full.embed_images(IMAGES)).min() > 0.999


def test_one_tower_never_reads_the_other(family, tmp_path):
    """Each tower loads from a checkpoint whose other tower's tensors are garbage."""
    folder, _ = family
    full = load(folder)
    state = load_file(folder / "model.safetensors")
    for tower, other in [("text", ("vision_model.", "visual_")), ("vision", ("text_",))]:
        copy = tmp_path / tower
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.bin", "*.safetensors"))
        garbage = {k: (torch.zeros(1) if k.startswith(other) else v) for k, v in state.items()}
        save_file(garbage, copy / "model.safetensors")
        model = load(copy, towers=(tower,))
        if tower == "text":
            assert model.preprocess is None
            assert (model.embed_text(TEXTS) - full.embed_text(TEXTS)).abs().max() <= 1e-6
        else:
            assert model.tokenizer is None
            assert (model.embed_images(IMAGES) - full.embed_images(IMAGES)).abs().max() <= 1e-6
        with pytest.raises(CheckpointError, match=other[0]):
            load(copy, towers=("vision",) if tower == "text" else ("text",))


def test_convert_to_safetensors(family, tmp_path):
    folder, _ = family
    source = tmp_path / "src"
    shutil.copytree(folder, source, ignore=shutil.ignore_patterns("*.safetensors"))
    if not (source / "pytorch_model.bin").is_file():
        torch.save(load_file(folder / "model.safetensors"), source / "pytorch_model.bin")
    assert convert_main([str(source), str(tmp_path / "out")]) == 0
    converted, original = load(tmp_path / "out"), load(folder)
    assert torch.equal(converted.embed_text(TEXTS), original.embed_text(TEXTS))
    assert torch.equal(converted.embed_images(IMAGES[:3]), original.embed_images(IMAGES[:3]))


def test_hub_downloads_every_file_the_loader_reads(any_family):
    folder, _ = any_family
    small = [p.name for p in folder.iterdir() if p.suffix not in (".bin", ".safetensors")]
    missed = [n for n in small if not any(fnmatch.fnmatch(n, pat) for pat in hub.SMALL_FILES)]
    assert missed == []


def test_missing_or_foreign_tokenizer_files_are_named(family, built, tmp_path):
    folder, _ = family
    copy = checkpoints.only(folder, tmp_path, ["config.json", "model.safetensors"])
    needs = "vocab.txt" if model_type(folder) == "chinese_clip" else "vocab.json and merges.txt"
    with pytest.raises(CheckpointError, match=f"no tokenizer.json, or {needs}, in"):
        load(copy)
    shutil.copy(built("altclip")[0] / "tokenizer.json", copy)  # XLM-R's Unigram
    with pytest.raises(CheckpointError, match="holds a Unigram tokenizer where this model needs"):
        load(copy)


def test_unknown_model_type_is_named(family, tmp_path):
    folder, _ = family
    copy = checkpoints.only(folder, tmp_path, ["model.safetensors"])
    config = json.loads((folder / "config.json").read_text()) | {"model_type": "siglip"}
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="'siglip'; supported: altclip, clip, chinese_clip"):
        load(copy)


def test_a_family_is_its_record(family, tmp_path, monkeypatch):
    """What a model_type builds, reads and runs is its record: a checkpoint whose config names a
    new model_type loads once the registry holds a record for it (here its own family's, renamed),
    and embeds as before."""
    from altclip_core import families

    folder, _ = family
    copy = tmp_path / "renamed"
    shutil.copytree(folder, copy)
    config = json.loads((folder / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps(config | {"model_type": "renamed"}))
    record = dataclasses.replace(families.family(config["model_type"]), model_type="renamed")
    monkeypatch.setitem(families.FAMILIES, "renamed", record)
    renamed, original = load(copy), load(folder)
    assert renamed.family is record
    assert torch.equal(renamed.embed_text(TEXTS), original.embed_text(TEXTS))
    assert torch.equal(renamed.embed_images(IMAGES[:2]), original.embed_images(IMAGES[:2]))


# --- zero-shot labels --------------------------------------------------------------------------


@torch.inference_mode()
def test_classify_matches_transformers_softmax(any_family):
    """`classify` equals transformers' own pipeline: its tokenizer and image processor, then
    `logits_per_image.softmax(dim=1)`."""
    folder, reference = any_family
    ours = load(folder)
    probs = ours.classify(IMAGES[:4], LABELS)
    inputs = reference_ids(reference_tokenizer(folder), ours.tokenizer.max_tokens, LABELS)
    pixels = reference_processor(folder)(IMAGES[:4], return_tensors="pt")["pixel_values"]
    out = reference(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        pixel_values=pixels,
    )
    expected = out.logits_per_image.softmax(dim=1)
    assert probs.shape == (4, len(LABELS))
    assert (probs - expected).abs().max().item() <= 1e-5
    assert torch.allclose(probs.sum(dim=1), torch.ones(4))


@torch.inference_mode()
def test_classify_ensembles_templates_as_clip_does(any_family):
    """Per label: the templates' normalised text embeddings, averaged, normalised again."""
    folder, reference = any_family
    ours = load(folder)
    tokenizer = reference_tokenizer(folder)
    per_template = []
    for template in TEMPLATES:
        texts = [template.format(label) for label in LABELS]
        inputs = reference_ids(tokenizer, ours.tokenizer.max_tokens, texts)
        out = reference.get_text_features(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        )
        per_template.append(F.normalize(out.pooler_output, dim=-1))
    text = F.normalize(torch.stack(per_template).mean(dim=0), dim=-1)  # [L, dim]
    pixels = reference_processor(folder)(IMAGES[:3], return_tensors="pt")["pixel_values"]
    image = F.normalize(reference.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
    expected = (reference.logit_scale.exp() * image @ text.T).softmax(dim=1)

    probs = ours.classify(IMAGES[:3], LABELS, template=TEMPLATES)
    assert (probs - expected).abs().max().item() <= 1e-5
    one = ours.classify(IMAGES[:3], LABELS, template=TEMPLATES[1])
    filled = ours.classify(IMAGES[:3], [TEMPLATES[1].format(label) for label in LABELS])
    assert torch.equal(one, filled)


def test_classify_from_stored_vectors_with_the_text_tower_alone(any_family):
    folder, _ = any_family
    full = load(folder)
    stored = full.embed_images(IMAGES[:3])  # as a library keeps them
    text_only = load(folder, towers=("text",))
    expected = full.classify(IMAGES[:3], LABELS)
    assert (text_only.classify(stored, LABELS) - expected).abs().max() <= 1e-6
    assert (text_only.classify(stored.numpy(), LABELS) - expected).abs().max() <= 1e-6
    with pytest.raises(ValueError, match="template"):
        text_only.classify(stored, LABELS, template="a photo")
