"""Search a library: the catalog (SQLAlchemy), the vector index (FAISS) and the query API.

from search import Library
lib = Library.open("data")
hits = lib.search("海边的日落", k=20)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Each name is imported from its module on first use (PEP 562), so that a command that needs one
# small part (altclip-ui's settings before it hands over to Streamlit) does not import FAISS,
# SQLAlchemy and the rest.
_EXPORTS = {
    "AltCLIPError": "altclip_core.errors",
    "CheckpointError": "altclip_core.errors",
    "ModelNotFound": "altclip_core.errors",
    "plain": "search.arguments",
    "CatalogError": "search.catalog",
    "Hit": "search.hits",
    "NoLibrary": "search.hits",
    "QueryTooLong": "search.hits",
    "SearchError": "search.hits",
    "Status": "search.hits",
    "UnreadableImage": "search.hits",
    "image_types": "search.images",
    "Library": "search.library",
    "MAX_QUERY_CHARS": "search.query",
}

if TYPE_CHECKING:
    from altclip_core.errors import AltCLIPError, CheckpointError, ModelNotFound

    from .arguments import plain
    from .catalog import CatalogError
    from .hits import Hit, NoLibrary, QueryTooLong, SearchError, Status, UnreadableImage
    from .images import image_types
    from .library import Library
    from .query import MAX_QUERY_CHARS


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'search' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


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
