"""`python -m ui.serve STREAMLIT-ARGS...`: what `altclip-ui` runs (by exec, so that `ps` shows no
password given on its command line): `streamlit` with those arguments, in a process that opens the
library meanwhile (`ui.early`), for the page's first search to find it ready.
"""

from __future__ import annotations

import sys

from search.settings import Settings
from ui import early


def listening() -> bool:
    """Whether Streamlit's server has started: its runtime out of its first state."""
    runtime = sys.modules.get("streamlit.runtime.runtime")  # Streamlit's import, not this one's
    try:
        started = runtime.Runtime.exists() and runtime.Runtime.instance().state
        return started not in (False, runtime.RuntimeState.INITIAL)
    except AttributeError:  # not imported yet, or still being imported
        return False


def before_the_page() -> None:
    """Import what the page's first run would, while the browser still loads the page: the
    page's own modules, and Streamlit's emoji catalog, which it reads the first time a label is
    not ASCII, as 中文 is (0.05 s of the interpreter lock)."""
    import ui.app  # noqa: F401

    try:
        import streamlit.emojis  # noqa: F401
    except ImportError:  # a Streamlit without that catalog: the page runs as it would
        pass


if __name__ == "__main__":
    env = Settings.from_env()
    # The library opens once the server listens: its imports and the text tower's load would
    # hold the interpreter lock Streamlit's start needs, and the browser has the page to load
    # first (start to the first answer, browser open, Zen 4: median 2.93 -> 2.80 s in five
    # alternating runs).
    early.begin(str(env.library), env.catalog, after=listening, then=before_the_page)
    from streamlit.web import cli

    sys.exit(cli.main(sys.argv[1:], prog_name="streamlit"))
