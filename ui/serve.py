"""`python -m ui.serve STREAMLIT-ARGS...`: what `altclip-ui` runs (by exec, so that `ps` shows no
password given on its command line): `streamlit` with those arguments, in a process that opens the
library meanwhile (`ui.early`), for the page's first search to find it ready.
"""

from __future__ import annotations

import sys

from search.settings import Settings
from ui import early

if __name__ == "__main__":
    env = Settings.from_env()
    early.begin(str(env.library), env.catalog)  # first: its imports run beside Streamlit's
    from streamlit.web import cli

    sys.exit(cli.main(sys.argv[1:], prog_name="streamlit"))
