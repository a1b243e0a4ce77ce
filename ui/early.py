"""The library opened while the server starts: `altclip-ui`'s server (ui/serve.py) runs `begin`
in a thread as Streamlit starts, which opens the library once the server listens, so that its
index and text tower load while a browser loads the page; the page's first `take` gets that
library (or None: the page opens it as before, and says what fails). Streamlit and the page
share the process, so they share this module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from search.settings import Settings

if TYPE_CHECKING:
    from search import Library

WAIT = 10.0  # seconds `begin` waits for its `after` at most
_opening: dict[tuple[str, str | None], tuple[list, threading.Event, threading.Event]] = {}


def begin(
    folder: str,
    catalog: str | None,
    after: Callable[[], bool] | None = None,
    then: Callable[[], None] | None = None,
) -> None:
    """Open the library at `folder` (and `catalog`) in a thread of its own, once `after()` is
    true (asked every 20 ms, for at most WAIT seconds, and no longer once the page `take`s it);
    `then()` after it, in that thread (an error in it is that thread's alone)."""
    found: list[Library] = []
    taken, opened = threading.Event(), threading.Event()

    def run() -> None:
        deadline = time.monotonic() + WAIT
        while after is not None and not after() and time.monotonic() < deadline:
            if taken.wait(0.02):
                break
        try:
            found.append(open_library(folder, catalog))
        except Exception:  # no library yet, a catalog down: the page's own open says so
            pass
        finally:
            opened.set()
        if then is not None:
            then()

    _opening[folder, catalog] = found, taken, opened
    threading.Thread(target=run, name="altclip-open-early", daemon=True).start()


def open_library(folder: str, catalog: str | None) -> Library:
    """The library as the page opens it, its index and text tower loading in threads."""
    from search import Library  # on first open: in `begin`'s thread

    env = Settings.from_env()
    lib = Library.open(folder, catalog, int8=not env.exact, hemisphere=env.hemisphere)
    lib.warm_up()  # while the person types
    return lib


def take(folder: str, catalog: str | None) -> Library | None:
    """The library `begin` opened for the same `folder` and `catalog` (waiting for the open, not
    its warm-up), once; None where it was not begun or could not open."""
    found, taken, opened = _opening.pop((folder, catalog), ([], None, None))
    if opened is not None:
        taken.set()  # whatever `after` says: the page asks now
        opened.wait()
    return found[0] if found else None
