"""What a run reports: a Summary of what changed, or an IndexerError (indexer/errors.py) that says
what to do. Every stage may raise the error and count into the summary; only the command line
turns them into lines and exit codes (indexer/cli.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from search.terminal import escaped

from .decode import Decoded


@dataclass
class Summary:
    added: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    offline: int = 0  # in folders that could not be read: kept, not removed
    remade: list[tuple[str, str]] = field(default_factory=list)  # damaged rows, (path, why)
    seconds: float = 0.0
    interrupted: bool = False
    int8_cosine: float | None = None  # --int8: the self-check's minimum cosine to the exact model

    def count(self, d: Decoded, known: dict, moved_from: set[str] = frozenset()) -> None:
        """Count a stored file: added, updated (its path was `known`), moved (new path, bytes
        of a file gone) or failed."""
        kind = "updated" if d.entry.path in known else "added"
        if d.vector is None:
            kind = "failed"
        elif kind == "added" and d.sha256 in moved_from:
            kind = "moved"
        setattr(self, kind, getattr(self, kind) + 1)

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.moved} moved, "
            f"{self.removed} removed, "
            f"{self.failed} failed, {self.unchanged} unchanged in {self.seconds:.1f} s"
        )
        if self.offline:
            text += f"; {self.offline} kept from folders that could not be read"
        if self.remade:
            named = ", ".join(f"{escaped(p)} ({why})" for p, why in self.remade[:3])
            more = f" and {len(self.remade) - 3} more" if len(self.remade) > 3 else ""
            text += f"; {len(self.remade)} damaged row(s) made again: {named}{more}"
        if self.int8_cosine is not None:
            text += f"; int8 checked: minimum cosine {self.int8_cosine:.4f} to the exact model"
        return text + (" (interrupted: run again to finish)" if self.interrupted else "")
