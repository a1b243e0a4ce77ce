"""Tiny random checkpoints of the CLIP family (AltCLIP, OpenAI CLIP, Chinese-CLIP) in each one's
exact Hugging Face hub layout, tokenizer files included, built with transformers (our numerical
reference; a test-only dependency)."""

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

# openai/clip-vit-base-patch32's, from before transformers' image processors (integer sizes).
CLIP_PREPROCESSOR = PREPROCESSOR | {"feature_extractor_type": "CLIPFeatureExtractor"}
# openai/clip-vit-large-patch14-336's, in the current spelling.
CLIP_336_PREPROCESSOR = {
    "crop_size": {"height": 336, "width": 336},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": PREPROCESSOR["image_mean"],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": PREPROCESSOR["image_std"],
    "resample": 3,
    "rescale_factor": 1 / 255,
    "size": {"shortest_edge": 336},
}
# OFA-Sys/chinese-clip-*'s: squeezed to the square, no centre crop.
CHINESE_CLIP_PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": False,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "ChineseCLIPFeatureExtractor",
    "image_mean": PREPROCESSOR["image_mean"],
    "image_std": PREPROCESSOR["image_std"],
    "resample": 3,
    "size": {"height": 224, "width": 224},
}

TINY_TEXT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
TINY_VISION = TINY_TEXT | dict(image_size=224, patch_size=32)

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
    # OpenAI CLIP: ViT-B/32 at 224, and a ViT-L/14-336-like grid (24 x 24 patches) at 336.
    "clip": dict(text=TINY_TEXT, vision=TINY_VISION, projection_dim=16),
    "clip336": dict(
        text=TINY_TEXT | dict(hidden_size=48, num_attention_heads=6),
        vision=TINY_VISION | dict(image_size=336, patch_size=14, hidden_act="gelu"),
        projection_dim=24,
    ),
    # openai/clip-vit-base-patch32's own sizes, for bench/.
    "clip-full": dict(
        text=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048),
        vision=dict(hidden_size=768, intermediate_size=3072, patch_size=32, image_size=224),
        projection_dim=512,
    ),
    # Chinese-CLIP: BERT with 512 positions and ViT-B/16.
    "chinese_clip": dict(
        text=TINY_TEXT | dict(max_position_embeddings=512),
        vision=TINY_VISION | dict(patch_size=16),
        projection_dim=16,
    ),
    # OFA-Sys/chinese-clip-vit-base-patch16's own sizes, for bench/.
    "chinese-clip-full": dict(
        text=dict(vocab_size=21128, hidden_size=768, intermediate_size=3072),
        vision=dict(hidden_size=768, intermediate_size=3072, patch_size=16, image_size=224),
        projection_dim=512,
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
    model = randomised(AltCLIPModel, config, seed)
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


def randomised(model_class, config, seed: int):
    """`model_class(config)` (eval mode) with random weights from `seed` alone, the same in every
    run: its own init (seeded too) leaves some tensors at 0/1, so every one is perturbed, so that
    each matters."""
    torch.manual_seed(seed)
    model = model_class(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


def clip_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A tiny CLIP vocabulary laid out as OpenAI's: the 256 byte symbols, each again with `</w>`,
    one token per merge (byte-level BPE trained on CORPUS with CLIPTokenizer's own normaliser and
    split), then `<|startoftext|>` and `<|endoftext|>`, the largest id (old configs pool there by
    argmax)."""
    from tokenizers import Tokenizer, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import CLIPTokenizer

    pipeline = CLIPTokenizer().backend_tokenizer
    trainer_tok = Tokenizer(BPE(continuing_subword_prefix="", end_of_word_suffix="</w>"))
    trainer_tok.normalizer, trainer_tok.pre_tokenizer = pipeline.normalizer, pipeline.pre_tokenizer
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    trainer = trainers.BpeTrainer(
        vocab_size=900,
        initial_alphabet=alphabet,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    trainer_tok.train_from_iterator(CORPUS * 5, trainer)
    merges = [tuple(m) for m in json.loads(trainer_tok.to_str())["model"]["merges"]]
    tokens = alphabet + [a + "</w>" for a in alphabet]
    tokens += dict.fromkeys(a + b for a, b in merges if a + b not in tokens)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def bert_vocabulary() -> list[str]:
    """A tiny Chinese-CLIP `vocab.txt`, in BERT's order: `[PAD]`, an unused slot, `[UNK] [CLS]
    [SEP] [MASK]`, then WordPiece trained on CORPUS after BERT's normaliser (CJK one by one)."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import WordPiece

    specials = ["[PAD]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=500, special_tokens=specials, show_progress=False
    )
    tok.train_from_iterator(CORPUS * 5, trainer)
    vocab = tok.get_vocab()
    return sorted(vocab, key=vocab.get)


def build_clip(
    folder: Path,
    shape: str = "clip",
    seed: int = 0,
    legacy: bool = False,
    pad_token: str = "<|endoftext|>",
    pytorch_bin: bool = False,
):
    """Write a random CLIPModel checkpoint to `folder` in openai/clip-vit-*'s hub layout: config,
    model.safetensors (and pytorch_model.bin), tokenizer.json, vocab.json, merges.txt,
    tokenizer_config.json, special_tokens_map.json, preprocessor_config.json.

    `legacy`: the config of openai/clip-vit-base-patch32 (`eos_token_id: 2`, integer preprocessor
    sizes), where the text is pooled at argmax(input_ids); else the current config, pooled at the
    first `<|endoftext|>`. `pad_token`: "!" as LAION's checkpoints pad. Returns transformers'
    CLIPModel loaded from the folder (float32, eval)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    vocab, merges = clip_vocabulary()
    s = SHAPES[shape]
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    ids = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1) if legacy else {}
    # 8 slots past the tokenizer, as for tokens added later, where old configs pool wrongly.
    text = dict(vocab_size=max(len(vocab) + 8, s["text"].get("vocab_size", 0)), bos_token_id=bos)
    text |= dict(eos_token_id=eos, pad_token_id=vocab[pad_token]) | s["text"] | ids
    config = CLIPConfig(
        text_config=text, vision_config=s["vision"], projection_dim=s["projection_dim"]
    )
    model = randomised(CLIPModel, config, seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    _save_weights(model.state_dict(), folder, pytorch_bin)

    tok = CLIPTokenizer(vocab=vocab, merges=merges, pad_token=pad_token, model_max_length=77)
    tok.save_pretrained(folder)  # tokenizer.json, tokenizer_config.json
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    lines = "".join(f"{a} {b}\n" for a, b in merges)
    (folder / "merges.txt").write_text("#version: 0.2\n" + lines, encoding="utf-8")
    specials = dict(bos_token="<|startoftext|>", eos_token="<|endoftext|>")
    specials |= dict(unk_token="<|endoftext|>", pad_token=pad_token)
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    preprocessor = CLIP_336_PREPROCESSOR if s["vision"]["image_size"] == 336 else CLIP_PREPROCESSOR
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    return CLIPModel.from_pretrained(folder).eval()


def build_chinese_clip(
    folder: Path, shape: str = "chinese_clip", seed: int = 0, pytorch_bin: bool = True
):
    """Write a random ChineseCLIPModel checkpoint to `folder` in OFA-Sys/chinese-clip-*'s hub
    layout: a config with `*_config_dict` entries, pytorch_model.bin (and model.safetensors),
    vocab.txt without tokenizer.json, tokenizer_config.json, special_tokens_map.json,
    preprocessor_config.json. Returns transformers' ChineseCLIPModel loaded from the folder."""
    from transformers import ChineseCLIPConfig, ChineseCLIPModel

    vocab = bert_vocabulary()
    s = SHAPES[shape]
    text = dict(vocab_size=max(len(vocab), s["text"].get("vocab_size", 0))) | s["text"]
    config = ChineseCLIPConfig(
        text_config=text, vision_config=s["vision"], projection_dim=s["projection_dim"]
    )
    model = randomised(ChineseCLIPModel, config, seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["text_config_dict"], cfg["vision_config_dict"] = dict(text), dict(s["vision"])
    cfg["text_config"], cfg["vision_config"] = {"hidden_size": 8}, {"patch_size": 32}
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    _save_weights(model.state_dict(), folder, pytorch_bin)

    (folder / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"})
    )
    specials = dict(unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]")
    (folder / "special_tokens_map.json").write_text(json.dumps(specials | {"mask_token": "[MASK]"}))
    (folder / "preprocessor_config.json").write_text(json.dumps(CHINESE_CLIP_PREPROCESSOR))
    return ChineseCLIPModel.from_pretrained(folder).eval()


def _save_weights(state: dict, folder: Path, pytorch_bin: bool) -> None:
    state = {k: v.clone() for k, v in state.items()}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    if pytorch_bin:
        torch.save(state, folder / "pytorch_model.bin")


def only(folder: Path, out: Path, files: list[str]) -> Path:
    """A copy of `folder` that holds only `files` (e.g. the .bin without the safetensors)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(folder / name, out / name)
    return out
