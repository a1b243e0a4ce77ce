from __future__ import annotations

import os

import pytest

from tests import checkpoints

# Hermetic: never touch the network or the user's Hugging Face cache.
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def spm_path(tmp_path_factory):
    return checkpoints.train_sentencepiece(
        tmp_path_factory.mktemp("spm") / "sentencepiece.bpe.model"
    )


@pytest.fixture(scope="session")
def ref_tokenizer(spm_path):
    return checkpoints.reference_tokenizer(spm_path)


@pytest.fixture(scope="session", params=["altclip", "m18"])
def checkpoint(request, tmp_path_factory, spm_path):
    """(folder, transformers model) for each tiny checkpoint shape."""
    folder = tmp_path_factory.mktemp(request.param)
    return folder, checkpoints.build(folder, spm_path, request.param)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, spm_path):
    """The AltCLIP-shaped tiny checkpoint folder, for tests that need one model only."""
    folder = tmp_path_factory.mktemp("tiny")
    checkpoints.build(folder, spm_path, "altclip")
    return folder


@pytest.fixture(scope="session")
def photo_library(tmp_path_factory, tiny):
    """A library indexed from tests.photos.make_photos with the tiny checkpoint."""
    from indexer import Indexer
    from tests.photos import make_photos

    root = make_photos(tmp_path_factory.mktemp("photos"))
    folder = tmp_path_factory.mktemp("lib")
    Indexer(library=folder, model=str(tiny)).run([root])
    return folder
