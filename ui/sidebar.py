"""The sidebar: the library in plain words."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from search import Library
from ui.i18n import Strings
from ui.show import name, text


def status_ui(lib: Library, tr: Strings) -> None:
    """How many photos, when last updated, how many files could not be read (the list one click
    away), and the model's short name."""
    s = lib.status()
    bar = st.sidebar
    if s.last_indexed is None:
        text(tr("status_empty"), bar)
    else:
        bar.metric(tr("photos"), tr.number(s.photos))
        text(tr("updated", when=tr.when(s.last_indexed, datetime.now())), bar)
    if s.failed:
        key = "failed_one" if s.failed == 1 else "failed"
        with bar.expander(tr(key, n=tr.number(s.failed))):
            for path, reason in lib.failures():
                text(f"{name(path)}: {reason}")
    text(tr("model", name=s.model_short), bar)
