"""The sidebar: the library in plain words, and what its watcher (`altclip-ui --watch`,
`altclip-index --watch`) is doing, as it says in the library folder (indexer/watch.py)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from indexer.watch import read_status
from search import Library
from ui.i18n import Strings
from ui.show import name, text


def status_ui(lib: Library, tr: Strings) -> None:
    """How many photos, when last updated, whether a watcher keeps them current (or how far it
    is), how many files could not be read (the list one click away), the model's name, and a
    cache folder the text tower could not be kept in."""
    s = lib.status()
    bar = st.sidebar
    if s.last_indexed is None:
        text(tr("status_empty"), bar)
    else:
        bar.metric(tr("photos"), tr.number(s.photos))
        text(tr("updated", when=tr.when(s.last_indexed, datetime.now())), bar)
    watching = read_status(lib.folder)
    if watching is not None and watching.state == "indexing":
        done, total = tr.number(watching.done), tr.number(watching.total)
        text(
            tr("watch_indexing", done=done, total=total) if watching.total else tr("watch_looking"),
            bar,
        )
    elif watching is not None:
        text(tr("watch_full" if watching.state == "full" else "watch_current"), bar)
    if s.failed:
        key = "failed_one" if s.failed == 1 else "failed"
        with bar.expander(tr(key, n=tr.number(s.failed))):
            for path, reason in lib.failures():
                text(f"{name(path)}: {reason}")
    text(tr("model", name=s.model_short), bar)
    if lib.unwritable_cache is not None:  # every start prepares the text tower again
        text(tr("tower_not_kept", folder=name(str(lib.unwritable_cache))), bar)
