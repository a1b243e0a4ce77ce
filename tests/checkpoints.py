"""Tiny random AltCLIP checkpoints in the exact Hugging Face hub layout, built with transformers
(our numerical reference; a test-only dependency)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

CORPUS = """海边的日落 一只猫坐在窗台上 夕阳西下 美丽的风景 我喜欢吃苹果 北京 上海 长城
一只狗在公园里跑
sunset at the beach, a cat sitting on a windowsill, a photo of a dog, mountains covered in snow
le chat est sur la table, un coucher de soleil sur la plage, la montagne enneigée
浜辺の夕日 猫が窓辺に座っている 山と雪 東京の夜景 寿司 ラーメン
der Hund läuft im Park, Sonnenuntergang am Strand, ein rotes Auto
собака бежит по парку, закат на пляже, кот сидит на окне
🌅 🐱 🐶 the quick brown fox jumps over the lazy dog 1234567890
""".splitlines()

# Hub's preprocessor_config.json for BAAI/AltCLIP (legacy integer sizes).
PREPROCESSOR = {
    "crop_size": 224,
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "size": 224,
}

# Tiny towers in the two shapes that matter: AltCLIP (ViT-L-like, quick_gelu, projection 768 ->
# here 16) and AltCLIP-m18 (ViT-H-like, exact gelu, its own widths and projection).
SHAPES = {
    "altclip": dict(
        text=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            project_dim=24,
        ),
        vision=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            patch_size=32,
            image_size=224,
            hidden_act="quick_gelu",
        ),
        projection_dim=16,
    ),
    "m18": dict(
        text=dict(
            hidden_size=48,
            num_hidden_layers=3,
            num_attention_heads=6,
            intermediate_size=96,
            project_dim=40,
        ),
        vision=dict(
            hidden_size=40,
            num_hidden_layers=3,
            num_attention_heads=5,
            intermediate_size=72,
            patch_size=28,
            image_size=224,
            hidden_act="gelu",
        ),
        projection_dim=20,
    ),
    # BAAI/AltCLIP's own sizes, for bench/: XLM-R large with its full vocabulary (whose 1 GB
    # embedding table weighs on load times) and ViT-L/14.
    "full": dict(
        text=dict(vocab_size=250002),
        vision=dict(
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=24,
            num_attention_heads=16,
            patch_size=14,
            image_size=224,
        ),
        projection_dim=768,
    ),
}


def train_sentencepiece(path: Path) -> Path:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20),
        model_writer=buf,
        vocab_size=300,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        normalization_rule_name="nmt_nfkc",
        minloglevel=2,
    )
    path.write_bytes(buf.getvalue())
    return path


def reference_tokenizer(spm_path: Path):
    """transformers' XLMRobertaTokenizer converted from the SentencePiece model, as for
    AltCLIP-m9."""
    from transformers import XLMRobertaTokenizer

    folder = spm_path.parent / "spm_only"
    folder.mkdir(exist_ok=True)
    shutil.copy(spm_path, folder / "sentencepiece.bpe.model")
    return XLMRobertaTokenizer.from_pretrained(folder)


def build(
    folder: Path, spm_path: Path, shape: str = "altclip", seed: int = 0, pytorch_bin: bool = True
):
    """Write a random checkpoint to `folder` the way the hub lays out BAAI/AltCLIP: a legacy config
    with `*_config_dict` entries, model.safetensors and (if `pytorch_bin`) pytorch_model.bin,
    tokenizer.json and the SentencePiece model, preprocessor_config.json. Returns the
    transformers model (float32, eval) it saved."""
    from transformers import AltCLIPConfig, AltCLIPModel

    tok = reference_tokenizer(spm_path)
    s = SHAPES[shape]
    text = dict(vocab_size=len(tok)) | s["text"]
    config = AltCLIPConfig(
        text_config=text, vision_config=s["vision"], projection_dim=s["projection_dim"]
    )
    torch.manual_seed(seed)
    model = AltCLIPModel(config).eval()
    with torch.no_grad():
        # Random init leaves some tensors at 0/1; perturb every one so each matters.
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)  # the weights are written below, by the hub's names
    tok.save_pretrained(folder)
    shutil.copy(spm_path, folder / "sentencepiece.bpe.model")

    # The hub's names, which transformers 5 renames in memory (`layers`) and again on saving
    # (`layer`):
    # BAAI/AltCLIP has `text_model.roberta.encoder.layer.N` and `vision_model.encoder.layers.N`.
    state = {
        k.replace("roberta.encoder.layers.", "roberta.encoder.layer."): v.clone()
        for k, v in model.state_dict().items()
    }
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    if pytorch_bin:
        # The hub .bin also carries buffers and an unused pooler: extras a loader must ignore.
        state["text_model.roberta.embeddings.position_ids"] = torch.arange(514)[None]
        state["text_model.roberta.pooler.dense.weight"] = torch.zeros(4, 4)
        torch.save(state, folder / "pytorch_model.bin")

    # The hub's config.json: real values in `*_config_dict`, stale ones in `*_config`, FlagAI
    # extras.
    cfg = json.loads((folder / "config.json").read_text())
    cfg["text_config_dict"], cfg["vision_config_dict"] = dict(text), dict(s["vision"])
    cfg["text_config"] = {"hidden_size": 8, "num_hidden_layers": 1}
    cfg["vision_config"] = {"hidden_size": 8, "patch_size": 16}
    cfg.update(direct_kd=False, num_layers=3)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR))
    return model


def only(folder: Path, out: Path, files: list[str]) -> Path:
    """A copy of `folder` that holds only `files` (e.g. the .bin without the safetensors)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(folder / name, out / name)
    return out
