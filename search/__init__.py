"""Search a library: the catalog (SQLAlchemy), the vector index (FAISS) and the query API.

from search import Library
lib = Library.open("data")
hits = lib.search("海边的日落", k=20)
"""

from __future__ import annotations

from altclip_core.errors import AltCLIPError, CheckpointError, ModelNotFound

from .catalog import CatalogError
from .library import (
    MAX_QUERY_CHARS,
    Hit,
    Library,
    NoLibrary,
    QueryTooLong,
    SearchError,
    Status,
    UnreadableImage,
    image_types,
    plain,
)

# Every error this package raises on purpose derives from AltCLIPError; its message says what
# to do. Front ends catch that one type, and tell these apart where they say more.
__all__ = [
    "MAX_QUERY_CHARS",
    "AltCLIPError",
    "CatalogError",
    "CheckpointError",
    "Hit",
    "Library",
    "ModelNotFound",
    "NoLibrary",
    "QueryTooLong",
    "SearchError",
    "Status",
    "UnreadableImage",
    "image_types",
    "plain",
]
