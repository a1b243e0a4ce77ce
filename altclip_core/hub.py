"""Model names to local folders: a folder is used as it is; a Hugging Face repo id (`BAAI/AltCLIP`)
is downloaded once into the standard Hugging Face cache (progress bars from `huggingface_hub`)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from . import cache
from .errors import ModelNotFound
from .families import FAMILIES

DEFAULT_MODEL = "BAAI/AltCLIP"
# What the tokenizers of every family read, whichever a repo ships: a repo's family is known only
# once its config.json is here.
TOKENIZER_FILES = tuple(dict.fromkeys(n for f in FAMILIES.values() for n in f.tokenizer_files))
# Everything but the weights; the weights are fetched as safetensors if the repo has them, else
# .bin.
SMALL_FILES = ["*.json", *(name for name in TOKENIZER_FILES if not name.endswith(".json"))]


def resolve(name: str | Path, revision: str | None = None) -> Path:
    """A local folder holding the checkpoint `name` (a folder path or a hub repo id)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if (
        not re.fullmatch(r"[\w.-]+/[\w.-]+", str(name))
        or path.exists()
        or str(name).startswith((".", "/", "~"))
    ):
        raise ModelNotFound(f"{name} is not a model folder nor a hub repo id like {DEFAULT_MODEL}")
    from huggingface_hub import snapshot_download

    def fetch(patterns: list[str], offline: bool) -> Path:
        return Path(
            snapshot_download(
                str(name), revision=revision, allow_patterns=patterns, local_files_only=offline
            )
        )

    try:
        try:  # already cached: no network at all
            folder = fetch(SMALL_FILES + ["*.safetensors", "pytorch_model.bin"], offline=True)
            if _has_weights(folder):
                return folder
        except Exception:
            pass
        folder = fetch(SMALL_FILES + ["*.safetensors"], offline=False)
        if not _has_weights(folder):
            folder = fetch(SMALL_FILES + ["pytorch_model.bin"], offline=False)
    except Exception as e:  # offline, unknown repo, interrupted download: one actionable message
        raise ModelNotFound(not_downloaded(str(name), e)) from e
    return folder


def not_downloaded(name: str, e: Exception) -> str:
    """Why `name` could not be downloaded (`e`, from huggingface_hub), in words, and the ways a
    person gets its weights: from the hub, from a mirror of it where it is blocked (HF_ENDPOINT,
    which huggingface_hub reads), or as a checkpoint folder copied from another machine."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    hub = constants.ENDPOINT.rstrip("/")
    copied = (
        "from another machine: copy the checkpoint folder (config.json, the weights, the "
        f"tokenizer files) and pass it with  --model DIR  (altclip-convert {name} DIR makes one "
        "where the hub answers)"
    )
    if isinstance(e, GatedRepoError):
        return (
            f"{hub} gives {name} only to signed-in users who accepted its licence: accept it on "
            f"the model's page, run  hf auth login  and run again; or get it {copied}"
        )
    if isinstance(e, (RepositoryNotFoundError, RevisionNotFoundError)):
        return (
            f"{hub} has no model {name} (a private one needs  hf auth login): check the name "
            f"(e.g. {DEFAULT_MODEL}); or get it {copied}"
        )
    if isinstance(e, LocalEntryNotFoundError) and constants.HF_HUB_OFFLINE:
        why, again = "downloads are off (HF_HUB_OFFLINE)", "run again without HF_HUB_OFFLINE"
    elif isinstance(e, LocalEntryNotFoundError):
        why, again = f"{hub} could not be reached", f"run again where {hub} answers"
    else:
        reason = getattr(e, "strerror", None)  # a full disk, say; else the connection
        why = f"the download from {hub} stopped" + (f" ({reason})" if reason else "")
        again = "run again (a download resumes where it stopped)"
    if hub == "https://huggingface.co":
        mirror = "where huggingface.co is blocked, from a mirror of the hub: put "
        mirror += "HF_ENDPOINT=https://hf-mirror.com  before the command"
    else:
        mirror = f"from another mirror than {hub} (HF_ENDPOINT), or from huggingface.co without it"
    return (
        f"{name} is not in the Hugging Face cache and {why}. Three ways to get it: from the hub, "
        f"{again}; {mirror}; or {copied}"
    )


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "pytorch_model.bin").is_file()


def fingerprint(folder: Path) -> str:
    """The identity of a checkpoint's weights: a hash of every byte of every weight file. Two
    libraries whose fingerprints differ hold vectors that must not be mixed. Each file is read
    whole once as it stands (`cache.as_it_stands`), then its hash is remembered in the cache:
    AltCLIP's 3.46 GB took 2.1 s (Zen 4, from the page cache), then a few ms."""
    digest = hashlib.sha256()
    for path in _weights(folder):
        digest.update(f"{path.name}:{_sha256(path)}".encode())
    return digest.hexdigest()[:16]


def same_weights(folder: Path, recorded: str) -> bool:
    """Whether `recorded` (a library's fingerprint, a rebuild's, a shard's) names the weights in
    `folder`. One recorded before fingerprints read every byte is compared as it was made, from
    each file's size and first and last MB: such a library keeps that weaker check until it is
    rebuilt."""
    return fingerprint(folder) == recorded or _sampled(folder) == recorded


def fingerprint_for(folder: Path, recorded: str | None) -> str:
    """The fingerprint to record for the weights in `folder` beside `recorded` (a rebuild's
    begun, shards written): `recorded` where it names them, so that an old one goes on, else
    `fingerprint(folder)`."""
    if recorded is not None and same_weights(folder, recorded):
        return recorded
    return fingerprint(folder)


def _weights(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model.bin"))
    if not files:
        raise ModelNotFound(f"no weights in {folder}")
    return files


def _sha256(path: Path) -> str:
    seen = cache.as_it_stands(path)
    if known := cache.remembered("sha256", *seen):
        return str(known)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    found = digest.hexdigest()
    cache.remember("sha256", found, *seen)
    return found


def _sampled(folder: Path) -> str:
    """The fingerprint libraries recorded until 2026-12: each file's size, first and last MB."""
    digest = hashlib.sha256()
    for path in _weights(folder):
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(1 << 20)
            f.seek(max(size - (1 << 20), 0))
            digest.update(f"{path.name}:{size}".encode() + head + f.read())
    return digest.hexdigest()[:16]
