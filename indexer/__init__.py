"""Folder in, library out: `altclip-index PHOTOS... [--library DIR]`."""

from __future__ import annotations

from .run import Indexer
from .summary import IndexerError, Summary

__all__ = ["Indexer", "IndexerError", "Summary"]
