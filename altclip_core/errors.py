"""Typed errors: library code raises them, only command-line entry points print them."""

from __future__ import annotations


class AltCLIPError(Exception):
    """Base of every error this package raises on purpose; its message says what to do."""


class CheckpointError(AltCLIPError):
    """A checkpoint folder is missing a file, a tensor, or has tensors of the wrong shape."""


class ModelNotFound(AltCLIPError):
    """A model name is neither a local folder nor downloadable right now."""


class ImageError(AltCLIPError):
    """An image that cannot be read safely: not a regular file, too large, or not an image."""


class OverLimit(ImageError):
    """An image over a reading limit: `what` says which; the message adds how the indexer raises
    it (`advice`), which a searcher, whose limits are not flags, says its own way."""

    def __init__(self, what: str, advice: str):
        super().__init__(f"{what}: {advice}")
        self.what = what


class DeviceError(AltCLIPError):
    """A device this machine does not have (a GPU on a machine without one, a typo)."""
