"""The statements about copy groups (the `copies` table, search/schema.py's `CopyOf`): written by
the indexer as photos come and go, read by searches to fold their hits by group in O(k)."""

from __future__ import annotations


class CatalogCopies:
    """The copy groups' statements; mixed into `Catalog`, whose `_session` it uses."""
