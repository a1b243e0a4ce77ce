"""The indexer's error: a run that cannot start or finish says what to do (indexer/cli.py turns
it into one line and an exit code)."""

from __future__ import annotations

from altclip_core.errors import AltCLIPError


class IndexerError(AltCLIPError):
    """The run cannot start or finish; the message says what to do."""
