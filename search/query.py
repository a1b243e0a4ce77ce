"""What a typed query means (search.dates): the name its callers know. `parse`, `Query` and
`MAX_QUERY_CHARS` are search.dates's."""

from search.dates import MAX_QUERY_CHARS, Query, parse

__all__ = ["MAX_QUERY_CHARS", "Query", "parse"]
