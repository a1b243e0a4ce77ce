"""`altclip-convert SRC OUT [--dtype float16]`: a checkpoint of the CLIP family (hub id or folder,
e.g. BAAI/AltCLIP or OFA-Sys/chinese-clip-vit-base-patch16, whose hub branches ship only
pytorch_model.bin) -> a folder with model.safetensors, which loads memory-mapped and several times
faster, plus the config and tokenizer files. Use it afterwards with `--model OUT`."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

from . import hub
from .errors import AltCLIPError
from .weights import convert

FILES = ("config.json", "preprocessor_config.json", *hub.TOKENIZER_FILES)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="altclip-convert", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source", help="hub repo id (BAAI/AltCLIP, openai/clip-vit-base-patch32) or folder"
    )
    parser.add_argument("out", type=Path, help="folder to write")
    parser.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default="float32",
        help="float16 halves the file; embeddings stay within cosine 0.999",
    )
    args = parser.parse_args(argv)
    try:
        folder = hub.resolve(args.source)
        written = convert(folder, args.out, DTYPES[args.dtype])
    except (AltCLIPError, OSError) as e:
        print(f"altclip-convert: {e}", file=sys.stderr)
        return 1
    for name in FILES:
        if (folder / name).is_file():
            shutil.copy(folder / name, args.out / name)
    print(f"wrote {written}; load it with --model {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
