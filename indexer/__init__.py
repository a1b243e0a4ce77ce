"""Folder in, library out: `altclip-index PHOTOS... [--library DIR]`."""

from __future__ import annotations

from .errors import IndexerError
from .run import Indexer
from .summary import Summary

__all__ = ["Indexer", "IndexerError", "Summary"]
