"""The library opened while the server starts: `altclip-ui`'s server (ui/serve.py) runs `begin`
in a thread beside Streamlit's start, so that the index and the text tower load before a browser
connects, and the page's first `take` gets that library (or None: the page opens it as before,
and says what fails). Streamlit and the page share the process, so they share this module.
"""

from __future__ import annotations

import threading

from search import Library
from search.settings import Settings

_opening: dict[tuple[str, str | None], tuple[threading.Thread, list]] = {}


def begin(folder: str, catalog: str | None) -> None:
    """Open the library at `folder` (and `catalog`) and warm it up, in a thread of its own."""
    found: list[Library] = []

    def run() -> None:
        try:
            env = Settings.from_env()
            lib = Library.open(folder, catalog, int8=not env.exact, hemisphere=env.hemisphere)
            lib.warm_up().join()
            found.append(lib)
        except Exception:  # no library yet, a catalog down: the page's own open says so
            pass

    thread = threading.Thread(target=run, name="altclip-open-early", daemon=True)
    _opening[folder, catalog] = thread, found
    thread.start()


def take(folder: str, catalog: str | None) -> Library | None:
    """The library `begin` opened for the same `folder` and `catalog` (waiting for it), once;
    None where it was not begun or could not open."""
    thread, found = _opening.pop((folder, catalog), (None, []))
    if thread is not None:
        thread.join()
    return found[0] if found else None
