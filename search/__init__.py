"""Search a library: the catalog (SQLAlchemy), the vector index (FAISS) and the query API.

from search import Library
lib = Library.open("data")
hits = lib.search("海边的日落", k=20)
"""

from __future__ import annotations

from .library import Hit, Library, SearchError, Status

__all__ = ["Hit", "Library", "SearchError", "Status"]
