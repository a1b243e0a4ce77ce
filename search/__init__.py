"""Search a library: the catalog (SQLAlchemy), the vector index (FAISS) and the query API.

from search import Library
lib = Library.open("data")
hits = lib.search("海边的日落", k=20)
"""

from __future__ import annotations

from altclip_core.errors import AltCLIPError, CheckpointError, ModelNotFound

from .arguments import plain
from .catalog import CatalogError
from .hits import Hit, NoLibrary, QueryTooLong, SearchError, Status, UnreadableImage
from .images import image_types
from .library import Library
from .query import MAX_QUERY_CHARS

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
